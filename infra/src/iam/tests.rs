//! The shop's own template.yaml, every function's policy built as the local stack builds it.

use super::*;
use crate::bootstrap::LOCAL_ACCOUNT;
use crate::template::{Context, Template};
use std::collections::HashMap;
use std::path::Path;

const REGION: &str = "us-east-1";
const PREFIX: &str = "shop";
const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-ShopTable";

/// The context `bootstrap::create_resources` answers, without creating anything.
fn local_context(template: &Template) -> Context {
    let mut context = Context::default();
    context.refs.extend(template.parameter_defaults());
    for (name, value) in [
        ("AWS::Region", REGION),
        ("AWS::AccountId", LOCAL_ACCOUNT),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", PREFIX),
    ] {
        context.refs.insert(name.to_owned(), value.to_owned());
    }
    for (id, _) in template.resources_of_type("AWS::SecretsManager::Secret") {
        context.refs.insert(id.to_owned(), format!("{PREFIX}-{id}"));
        context.secrets.insert(format!("{PREFIX}-{id}"), "local".to_owned());
    }
    for (id, _) in template.resources_of_type("AWS::SES::ConfigurationSet") {
        context.refs.insert(id.to_owned(), format!("{PREFIX}-{id}"));
    }
    for (id, _) in template.resources_of_type("AWS::Serverless::HttpApi") {
        context
            .attrs
            .insert(format!("{id}.ApiEndpoint"), "http://127.0.0.1:3000".to_owned());
    }
    for (id, _) in template.resources_of_type("AWS::DynamoDB::Table") {
        let name = format!("{PREFIX}-{id}");
        context.attrs.insert(
            format!("{id}.Arn"),
            format!("arn:aws:dynamodb:{REGION}:{LOCAL_ACCOUNT}:table/{name}"),
        );
        context.refs.insert(id.to_owned(), name);
    }
    for (id, _) in template.resources_of_type("AWS::S3::Bucket") {
        let name = format!("{PREFIX}-{id}").to_ascii_lowercase();
        context
            .attrs
            .insert(format!("{id}.Arn"), format!("arn:aws:s3:::{name}"));
        context.refs.insert(id.to_owned(), name);
    }
    // The staff pool as staff_pool::create_pools names it (moto makes the id).
    for (id, _) in template.resources_of_type("AWS::Cognito::UserPool") {
        let pool = format!("{REGION}_{id}");
        context.attrs.insert(
            format!("{id}.Arn"),
            format!("arn:aws:cognito-idp:{REGION}:{LOCAL_ACCOUNT}:userpool/{pool}"),
        );
        context.refs.insert(id.to_owned(), pool);
    }
    for (id, _) in template.resources_of_type("AWS::Cognito::UserPoolClient") {
        context.refs.insert(id.to_owned(), format!("client-{id}"));
    }
    for (id, _) in template.resources_of_type("AWS::SQS::Queue") {
        let name = format!("{PREFIX}-{id}");
        context
            .refs
            .insert(id.to_owned(), format!("http://127.0.0.1:4566/{LOCAL_ACCOUNT}/{name}"));
        context.attrs.insert(
            format!("{id}.Arn"),
            format!("arn:aws:sqs:{REGION}:{LOCAL_ACCOUNT}:{name}"),
        );
        context.attrs.insert(format!("{id}.QueueName"), name);
    }
    context
}

/// Every function's policy, by logical id.
fn shop_policies() -> HashMap<String, Policy> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = Template::load(&root.join("template.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let sam_templates = SamPolicyTemplates::find(&root).unwrap_or_else(|e| panic!("{e}"));
    let context = local_context(&template);
    template
        .functions()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|function| {
            let policy = Policy::from_template(function.policies.as_ref(), &context, &sam_templates)
                .unwrap_or_else(|e| panic!("{}: {e}", function.logical_id));
            (function.logical_id, policy)
        })
        .collect()
}

/// The accesses of one AWS JSON call (DynamoDB, SQS, SSM), in the local account.
fn json_call(service: &str, target: &str, body: &str) -> Vec<Access> {
    accesses(
        service,
        "POST",
        "/",
        Some(target),
        body.as_bytes(),
        REGION,
        LOCAL_ACCOUNT,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The accesses of one SES v2 `POST`, in the local account.
fn ses_post(path: &str, body: &str) -> Vec<Access> {
    accesses("ses", "POST", path, None, body.as_bytes(), REGION, LOCAL_ACCOUNT).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_function_of_the_shop_has_a_policy_the_local_stack_can_enforce() {
    let policies = shop_policies();
    assert_eq!(policies.len(), 13, "{:?}", policies.keys());
    for (function, policy) in &policies {
        for forbidden in ["dynamodb:DeleteTable", "dynamodb:Scan", "dynamodb:CreateTable"] {
            assert_eq!(
                policy.decide(forbidden, TABLE),
                Decision::ImplicitDeny,
                "{function} {forbidden}"
            );
        }
        assert_eq!(policy.decide("iam:PassRole", "*"), Decision::ImplicitDeny, "{function}");
    }
}

#[test]
fn browse_may_query_the_catalog_index_but_write_nothing() {
    let browse = &shop_policies()["BrowseFunction"];
    let listing = json_call(
        "dynamodb",
        "DynamoDB_20120810.Query",
        r#"{"TableName":"shop-ShopTable","IndexName":"gsi1","KeyConditionExpression":"gsi1pk = :p"}"#,
    );
    assert_eq!(browse.authorize(&listing), Ok(()));
    assert_eq!(browse.decide("dynamodb:GetItem", TABLE), Decision::Allow);
    assert_eq!(browse.decide("dynamodb:PutItem", TABLE), Decision::ImplicitDeny);
    assert_eq!(
        browse.decide("dynamodb:Query", &format!("{TABLE}/index/gsi2")),
        Decision::ImplicitDeny
    );
    assert_eq!(
        browse.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:shop-EmailQueue"),
        Decision::ImplicitDeny
    );
}

#[test]
fn the_storefront_may_do_what_its_handlers_do_and_no_more() {
    let storefront = &shop_policies()["StorefrontFunction"];
    let queue = |name: &str| format!("arn:aws:sqs:us-east-1:123456789012:shop-{name}");
    assert_eq!(
        storefront.decide("dynamodb:Query", &format!("{TABLE}/index/gsi1")),
        Decision::Allow
    );
    assert_eq!(
        storefront.decide("dynamodb:PutItem", &format!("{TABLE}/index/gsi1")),
        Decision::ImplicitDeny
    );
    for action in [
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ] {
        assert_eq!(storefront.decide(action, TABLE), Decision::Allow, "{action}");
    }
    assert_eq!(
        storefront.decide("dynamodb:BatchWriteItem", TABLE),
        Decision::ImplicitDeny
    );
    for allowed in ["ReservationExpiryQueue", "CampaignQueue", "EmailQueue"] {
        assert_eq!(
            storefront.decide("sqs:SendMessage", &queue(allowed)),
            Decision::Allow,
            "{allowed}"
        );
    }
    assert_eq!(
        storefront.decide("sqs:SendMessage", &queue("FulfillmentQueue")),
        Decision::ImplicitDeny,
        "only the webhook tells fulfillment"
    );
    // Its newsletter pages queue sign-ups; the campaign function mails them.
    for action in ["ses:SendEmail", "ses:SendBulkEmail"] {
        assert_eq!(
            storefront.decide(action, "arn:aws:ses:us-east-1:123456789012:identity/shop@example.com"),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
    let key = "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/secret-key";
    assert_eq!(storefront.decide("ssm:GetParameter", key), Decision::Allow);
    let webhook = "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/webhook-secret";
    assert_eq!(storefront.decide("ssm:GetParameter", webhook), Decision::ImplicitDeny);
}

#[test]
fn the_console_has_the_admin_handlers_rights_and_signs_staff_in_without_any() {
    let policies = shop_policies();
    let (console, admin) = (&policies["ConsoleFunction"], &policies["AdminFunction"]);
    let queue = |name: &str| format!("arn:aws:sqs:us-east-1:123456789012:shop-{name}");
    let key = "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/secret-key";
    let index = format!("{TABLE}/index/gsi1");
    for (action, resource) in [
        ("dynamodb:GetItem", TABLE),
        ("dynamodb:BatchGetItem", TABLE),
        ("dynamodb:Query", index.as_str()),
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:BatchWriteItem", TABLE),
        ("sqs:SendMessage", &queue("EmailQueue")),
        ("sqs:SendMessage", &queue("FulfillmentQueue")),
        ("ssm:GetParameter", key),
        (
            "cognito-idp:AdminCreateUser",
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_x",
        ),
    ] {
        assert_eq!(
            console.decide(action, resource),
            admin.decide(action, resource),
            "{action} on {resource}: the console may do what admin may, no more"
        );
    }
    // Its own: the audit log's entries and the sessions. The campaign function's admin routes':
    // starting a send queues its first page; the sending (SES) stays the campaign function's.
    assert_eq!(console.decide("dynamodb:PutItem", TABLE), Decision::Allow);
    assert_eq!(console.decide("dynamodb:DeleteItem", TABLE), Decision::Allow);
    let campaigns = &policies["CampaignFunction"];
    let campaign_queue = queue("CampaignQueue");
    assert_eq!(console.decide("sqs:SendMessage", &campaign_queue), Decision::Allow);
    assert_eq!(campaigns.decide("sqs:SendMessage", &campaign_queue), Decision::Allow);
    let sender = "arn:aws:ses:us-east-1:123456789012:identity/shop@example.com";
    assert_eq!(campaigns.decide("ses:SendBulkEmail", sender), Decision::Allow);
    assert_eq!(console.decide("ses:SendBulkEmail", sender), Decision::ImplicitDeny);
    // Sign-in is public: Cognito evaluates no IAM policy for InitiateAuth.
    let sign_in = json_call(
        "cognito-idp",
        "AWSCognitoIdentityProviderService.InitiateAuth",
        r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"c","AuthParameters":{}}"#,
    );
    assert!(sign_in.is_empty());
    let create = json_call(
        "cognito-idp",
        "AWSCognitoIdentityProviderService.AdminCreateUser",
        r#"{"UserPoolId":"us-east-1_x","Username":"a@example.com"}"#,
    );
    assert_eq!(
        console.authorize(&create).map_err(|d| d.access.action),
        Err("cognito-idp:AdminCreateUser".to_owned())
    );
}

#[test]
fn the_cart_reads_and_writes_items_but_not_through_the_index() {
    let cart = &shop_policies()["CartFunction"];
    assert_eq!(cart.decide("dynamodb:UpdateItem", TABLE), Decision::Allow);
    assert_eq!(cart.decide("dynamodb:DeleteItem", TABLE), Decision::ImplicitDeny);
    assert_eq!(
        cart.decide("dynamodb:Query", &format!("{TABLE}/index/gsi1")),
        Decision::ImplicitDeny
    );
}

#[test]
fn checkout_may_hold_stock_in_a_transaction_and_read_the_stripe_key_only() {
    let checkout = &shop_policies()["CheckoutFunction"];
    let transaction = json_call(
        "dynamodb",
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Update":{"TableName":"shop-ShopTable","Key":{}}},
            {"Put":{"TableName":"shop-ShopTable","Item":{}}}]}"#,
    );
    assert_eq!(checkout.authorize(&transaction), Ok(()));
    let hold = json_call(
        "sqs",
        "AmazonSQS.SendMessage",
        r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/shop-ReservationExpiryQueue","MessageBody":"{}"}"#,
    );
    assert_eq!(checkout.authorize(&hold), Ok(()));
    let key = json_call(
        "ssm",
        "AmazonSSM.GetParameter",
        r#"{"Name":"/serverless-shop/stripe/secret-key","WithDecryption":true}"#,
    );
    assert_eq!(checkout.authorize(&key), Ok(()));
    let webhook_secret = json_call(
        "ssm",
        "AmazonSSM.GetParameter",
        r#"{"Name":"/serverless-shop/stripe/webhook-secret","WithDecryption":true}"#,
    );
    assert!(matches!(
        checkout.authorize(&webhook_secret),
        Err(Denied { explicit: false, .. })
    ));
    assert!(
        shop_policies()["PaymentWebhookFunction"]
            .authorize(&webhook_secret)
            .is_ok()
    );
}

#[test]
fn the_mailers_send_from_the_store_address_and_only_campaigns_send_in_bulk() {
    let policies = shop_policies();
    let mail = ses_post(
        "/v2/email/outbound-emails",
        r#"{"FromEmailAddress":"\"Serverless Shop\" <shop@example.com>","Destination":{"ToAddresses":["a@b.c"]},
            "Content":{"Simple":{}},"ConfigurationSetName":"shop-MailConfigurationSet"}"#,
    );
    assert_eq!(mail.len(), 2);
    assert_eq!(policies["EmailSenderFunction"].authorize(&mail), Ok(()));
    assert_eq!(policies["CampaignFunction"].authorize(&mail), Ok(()));
    assert!(policies["OrdersFunction"].authorize(&mail).is_err());
    let bulk = ses_post(
        "/v2/email/outbound-bulk-emails",
        r#"{"FromEmailAddress":"shop@example.com","DefaultContent":{"Template":{"TemplateContent":{}}},
            "BulkEmailEntries":[],"ConfigurationSetName":"shop-MailConfigurationSet"}"#,
    );
    assert_eq!(policies["CampaignFunction"].authorize(&bulk), Ok(()));
    let refused = policies["EmailSenderFunction"].authorize(&bulk).unwrap_err();
    assert_eq!(refused.access.action, "ses:SendBulkEmail");
    let other_sender = ses_post(
        "/v2/email/outbound-emails",
        r#"{"FromEmailAddress":"someone@elsewhere.example","Destination":{},"Content":{}}"#,
    );
    assert!(policies["EmailSenderFunction"].authorize(&other_sender).is_err());
}

#[test]
fn the_storefront_reads_product_images_and_writes_none() {
    let policies = shop_policies();
    let storefront = &policies["StorefrontFunction"];
    let call = |method: &str, path: &str| {
        accesses("s3", method, path, None, b"", REGION, LOCAL_ACCOUNT).unwrap_or_else(|e| panic!("{e}"))
    };
    let image = "arn:aws:s3:::shop-productimagesbucket/merino-crew-sweater-1-640.webp";
    let get = call(
        "GET",
        "/shop-productimagesbucket/merino-crew-sweater-1-640.webp?x-id=GetObject",
    );
    assert_eq!(get, [Access::new("s3:GetObject", image)]);
    assert_eq!(storefront.authorize(&get), Ok(()));
    let head = call("HEAD", "/shop-productimagesbucket/merino-crew-sweater-1-640.webp");
    assert_eq!(storefront.authorize(&head), Ok(()));
    let put = call(
        "PUT",
        "/shop-productimagesbucket/merino-crew-sweater-1-640.webp?x-id=PutObject",
    );
    assert_eq!(put, [Access::new("s3:PutObject", image)]);
    let refused = storefront.authorize(&put).unwrap_err();
    assert_eq!(
        (refused.access.action.as_str(), refused.explicit),
        ("s3:PutObject", false)
    );
    let listing = call("GET", "/shop-productimagesbucket?list-type=2");
    assert!(storefront.authorize(&listing).is_err(), "GetObject on objects only");
    let elsewhere = call("GET", "/another-bucket/secret.txt?x-id=GetObject");
    assert!(storefront.authorize(&elsewhere).is_err());
    // The console checks the uploads it signed forms for (HeadObject is GetObject) and signs
    // them with its own role (PutObject); it lists nothing and reaches no other bucket.
    let console = &policies["ConsoleFunction"];
    assert_eq!(console.authorize(&head), Ok(()));
    assert_eq!(console.authorize(&put), Ok(()));
    assert!(console.authorize(&listing).is_err());
    assert!(
        console
            .authorize(&call("PUT", "/another-bucket/x.webp?x-id=PutObject"))
            .is_err()
    );
    for (function, policy) in &policies {
        if function != "StorefrontFunction" && function != "ConsoleFunction" {
            assert!(policy.authorize(&get).is_err(), "{function} reads no images");
            assert!(policy.authorize(&put).is_err(), "{function} writes no images");
        }
    }
}
