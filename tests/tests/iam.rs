//! IAM, enforced locally: a hosted function's AWS call that its policies in template.yaml do not
//! allow is refused as AWS refuses it, through the real SDK clients, at the gateway's proxy
//! (`SHOP_IAM_URL`), signed with the function's own credentials as the gateway signs them.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use shop_local::enforce::{EXPECTED_DENIAL_HEADER, function_sdk};
use shop_tests::{hosted_env, required, unique};

/// The SDK configuration the gateway gives the function `logical_id`.
async fn as_function(logical_id: &str) -> aws_config::SdkConfig {
    let sdk = shop_platform::aws::sdk_config().await;
    function_sdk(&sdk, &required("SHOP_IAM_URL"), logical_id)
}

fn table() -> String {
    required("SHOP_TABLE")
}

fn table_arn() -> String {
    format!("arn:aws:dynamodb:us-east-1:123456789012:table/{}", table())
}

fn key(pk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S("IAM-TEST".to_owned())),
    ]
    .into()
}

/// Tells the proxy that this call is meant to be denied (the run fails on any other denial).
fn expect_denial(request: &mut aws_sdk_dynamodb::config::http::HttpRequest) {
    request.headers_mut().insert(EXPECTED_DENIAL_HEADER, "1");
}

/// The error code and message of a refused call.
fn refusal<E: ProvideErrorMetadata>(error: &E) -> (String, String) {
    (
        error.code().unwrap_or_default().to_owned(),
        error.message().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn the_storefront_function_may_read_the_table_and_may_not_write_it() {
    let browse = aws_sdk_dynamodb::Client::new(&as_function("BrowseFunction").await);
    let pk = unique("IAM#browse");
    let read = browse
        .get_item()
        .table_name(table())
        .set_key(Some(key(&pk)))
        .send()
        .await;
    assert!(read.is_ok(), "GetItem is granted: {read:?}");

    let mut item = key(&pk);
    item.insert("note".into(), AttributeValue::S("should not be written".into()));
    let error = browse
        .put_item()
        .table_name(table())
        .set_item(Some(item))
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("PutItem is not granted to BrowseFunction");
    let (code, message) = refusal(&error);
    assert_eq!(code, "AccessDeniedException", "{message}");
    assert!(
        message.contains("is not authorized to perform: dynamodb:PutItem") && message.contains(&table_arn()),
        "{message}"
    );
    // Nothing was written.
    let operator = aws_sdk_dynamodb::Client::new(&shop_platform::aws::sdk_config().await);
    let stored = operator
        .get_item()
        .table_name(table())
        .set_key(Some(key(&pk)))
        .consistent_read(true)
        .send()
        .await
        .expect("the operator reads the table");
    assert!(stored.item.is_none(), "{stored:?}");
}

#[tokio::test]
async fn a_table_grant_does_not_cover_an_index_the_policy_does_not_name() {
    // The cart function is granted the table, not its gsi1 index.
    let cart = aws_sdk_dynamodb::Client::new(&as_function("CartFunction").await);
    let error = cart
        .query()
        .table_name(table())
        .index_name("gsi1")
        .key_condition_expression("gsi1pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("CATEGORY#none".into()))
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("CartFunction may not query gsi1");
    let (code, message) = refusal(&error);
    assert_eq!(code, "AccessDeniedException", "{message}");
    assert!(message.contains(&format!("{}/index/gsi1", table_arn())), "{message}");
}

#[tokio::test]
async fn the_back_office_function_holds_no_put_or_delete_of_items() {
    let admin = aws_sdk_dynamodb::Client::new(&as_function("AdminFunction").await);
    let put = admin
        .put_item()
        .table_name(table())
        .set_item(Some(key(&unique("IAM#admin"))))
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("AdminFunction has no PutItem");
    assert_eq!(refusal(&put).0, "AccessDeniedException");
    let delete = admin
        .delete_item()
        .table_name(table())
        .set_key(Some(key(&unique("IAM#admin"))))
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("AdminFunction has no DeleteItem");
    assert_eq!(refusal(&delete).0, "AccessDeniedException");
}

#[tokio::test]
async fn the_campaign_function_may_write_subscribers_in_batches() {
    // POST /admin/subscribers/import writes with BatchWriteItem: the grant it was missing.
    let campaign = aws_sdk_dynamodb::Client::new(&as_function("CampaignFunction").await);
    let pk = unique("IAM#campaign");
    let put = WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(key(&pk))).build().expect("an item"))
        .build();
    let written = campaign
        .batch_write_item()
        .request_items(table(), vec![put])
        .send()
        .await;
    assert!(written.is_ok(), "BatchWriteItem is granted: {written:?}");
}

#[tokio::test]
async fn queue_and_mail_calls_are_held_to_their_grants_too() {
    // The storefront sends no messages and no mail.
    let sdk = as_function("BrowseFunction").await;
    let (vars, _) = hosted_env("admin").await;
    let queue_url = vars["EMAIL_QUEUE_URL"].clone();
    let error = aws_sdk_sqs::Client::new(&sdk)
        .send_message()
        .queue_url(&queue_url)
        .message_body("{}")
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("BrowseFunction may not send to the mail queue");
    let (code, message) = refusal(&error);
    assert_eq!(code, "AccessDeniedException", "{message}");
    assert!(message.contains("sqs:SendMessage"), "{message}");

    let content = aws_sdk_sesv2::types::EmailContent::builder()
        .simple(
            aws_sdk_sesv2::types::Message::builder()
                .subject(
                    aws_sdk_sesv2::types::Content::builder()
                        .data("hi")
                        .build()
                        .expect("subject"),
                )
                .body(
                    aws_sdk_sesv2::types::Body::builder()
                        .text(
                            aws_sdk_sesv2::types::Content::builder()
                                .data("hi")
                                .build()
                                .expect("text"),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let error = aws_sdk_sesv2::Client::new(&sdk)
        .send_email()
        .from_email_address("shop@example.com")
        .destination(
            aws_sdk_sesv2::types::Destination::builder()
                .to_addresses("a@example.com")
                .build(),
        )
        .content(content)
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("BrowseFunction may not send mail");
    let (code, message) = refusal(&error);
    assert_eq!(code, "AccessDeniedException", "{message}");
    assert!(message.contains("ses:SendEmail"), "{message}");
}

#[tokio::test]
async fn a_key_no_function_holds_is_not_recognised() {
    let sdk = as_function("NoSuchFunction").await;
    let error = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(table())
        .set_key(Some(key("IAM#nobody")))
        .customize()
        .mutate_request(expect_denial)
        .send()
        .await
        .expect_err("an unknown key is refused");
    assert_eq!(refusal(&error).0, "UnrecognizedClientException");
}
