use super::*;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-ShopTable";
const OTHER_TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Other";

fn json_call(service: &str, target: &str, body: &str) -> Result<Vec<Access>, RequestError> {
    accesses(service, "POST", "/", Some(target), body.as_bytes(), REGION, ACCOUNT)
}

fn ses_call(method: &str, path: &str, body: &str) -> Result<Vec<Access>, RequestError> {
    accesses("ses", method, path, None, body.as_bytes(), REGION, ACCOUNT)
}

fn sorted(mut accesses: Vec<Access>) -> Vec<Access> {
    accesses.sort_by(|a, b| (&a.action, &a.resource).cmp(&(&b.action, &b.resource)));
    accesses
}

#[test]
fn a_dynamodb_item_call_is_its_action_on_the_table() {
    let body = r#"{"TableName":"shop-ShopTable","Key":{"pk":{"S":"CART#1"},"sk":{"S":"CART"}},"ConsistentRead":true}"#;
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.GetItem", body).unwrap(),
        [Access::new("dynamodb:GetItem", TABLE)]
    );
    let by_arn = format!(r#"{{"TableName":"{TABLE}","Key":{{}}}}"#);
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.DeleteItem", &by_arn).unwrap(),
        [Access::new("dynamodb:DeleteItem", TABLE)]
    );
    let describe = json_call(
        "dynamodb",
        "DynamoDB_20120810.UpdateTimeToLive",
        r#"{"TableName":"shop-ShopTable"}"#,
    );
    assert_eq!(describe.unwrap(), [Access::new("dynamodb:UpdateTimeToLive", TABLE)]);
}

#[test]
fn a_query_on_an_index_is_checked_on_the_index() {
    let body = r##"{"TableName":"shop-ShopTable","IndexName":"gsi1","KeyConditionExpression":"#pk = :pk",
        "ExpressionAttributeNames":{"#pk":"gsi1pk"},"ExpressionAttributeValues":{":pk":{"S":"LIST#CATALOG"}},
        "ScanIndexForward":false,"Limit":24}"##;
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.Query", body).unwrap(),
        [Access::new("dynamodb:Query", format!("{TABLE}/index/gsi1"))]
    );
    let on_table = r#"{"TableName":"shop-ShopTable","KeyConditionExpression":"pk = :pk"}"#;
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.Query", on_table).unwrap(),
        [Access::new("dynamodb:Query", TABLE)]
    );
}

#[test]
fn a_batch_write_is_the_batch_action_on_every_table_it_touches() {
    let body = r#"{"RequestItems":{
        "shop-ShopTable":[{"PutRequest":{"Item":{"pk":{"S":"PRODUCT#1"},"sk":{"S":"PRODUCT"}}}}],
        "shop-Other":[{"DeleteRequest":{"Key":{"pk":{"S":"X"},"sk":{"S":"Y"}}}}]}}"#;
    assert_eq!(
        sorted(json_call("dynamodb", "DynamoDB_20120810.BatchWriteItem", body).unwrap()),
        [
            Access::new("dynamodb:BatchWriteItem", OTHER_TABLE),
            Access::new("dynamodb:BatchWriteItem", TABLE)
        ]
    );
    let get = r#"{"RequestItems":{"shop-ShopTable":{"Keys":[{"pk":{"S":"A"},"sk":{"S":"B"}}]}}}"#;
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.BatchGetItem", get).unwrap(),
        [Access::new("dynamodb:BatchGetItem", TABLE)]
    );
}

#[test]
fn a_write_transaction_is_each_items_own_action_on_its_table() {
    let body = r#"{"TransactItems":[
        {"Put":{"TableName":"shop-ShopTable","Item":{"pk":{"S":"ORDER#1"},"sk":{"S":"ORDER"}},
            "ConditionExpression":"attribute_not_exists(pk)"}},
        {"Update":{"TableName":"shop-ShopTable","Key":{"pk":{"S":"SKU#A"},"sk":{"S":"STOCK"}},
            "UpdateExpression":"SET available = available - :n","ConditionExpression":"available >= :n",
            "ExpressionAttributeValues":{":n":{"N":"2"}},"ReturnValuesOnConditionCheckFailure":"ALL_OLD"}},
        {"Update":{"TableName":"shop-ShopTable","Key":{"pk":{"S":"SKU#B"},"sk":{"S":"STOCK"}},
            "UpdateExpression":"SET available = available - :n","ExpressionAttributeValues":{":n":{"N":"1"}}}},
        {"ConditionCheck":{"TableName":"shop-Other","Key":{"pk":{"S":"CART#1"},"sk":{"S":"CART"}},
            "ConditionExpression":"attribute_exists(pk)"}}
    ],"ClientRequestToken":"t"}"#;
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.TransactWriteItems", body).unwrap(),
        [
            Access::new("dynamodb:PutItem", TABLE),
            Access::new("dynamodb:UpdateItem", TABLE),
            Access::new("dynamodb:ConditionCheckItem", OTHER_TABLE),
        ]
    );
    let get = r#"{"TransactItems":[{"Get":{"TableName":"shop-ShopTable","Key":{}}}]}"#;
    assert_eq!(
        json_call("dynamodb", "DynamoDB_20120810.TransactGetItems", get).unwrap(),
        [Access::new("dynamodb:GetItem", TABLE)]
    );
}

#[test]
fn dynamodb_calls_that_cannot_be_classified_are_errors() {
    assert!(matches!(
        json_call(
            "dynamodb",
            "DynamoDB_20120810.ExecuteStatement",
            r#"{"Statement":"SELECT * FROM t"}"#
        ),
        Err(RequestError::Unsupported { .. })
    ));
    assert!(matches!(
        json_call("dynamodb", "DynamoDB_20120810.GetItem", r#"{"Key":{}}"#),
        Err(RequestError::Malformed { reason, .. }) if reason == "no TableName"
    ));
    assert!(matches!(
        json_call("dynamodb", "DynamoDBStreams_20120810.GetRecords", "{}"),
        Err(RequestError::Unsupported { .. })
    ));
    assert!(matches!(
        accesses("dynamodb", "POST", "/", None, b"{}", REGION, ACCOUNT),
        Err(RequestError::Malformed { .. })
    ));
    assert!(matches!(
        json_call("kinesis", "Kinesis_20131202.PutRecord", "{}"),
        Err(RequestError::UnknownService { service }) if service == "kinesis"
    ));
}

#[test]
fn an_sqs_json_call_is_checked_on_the_queue_its_url_names() {
    let queue = "arn:aws:sqs:us-east-1:123456789012:shop-EmailQueue";
    let body = r#"{"QueueUrl":"http://127.0.0.1:4566/123456789012/shop-EmailQueue","MessageBody":"{\"kind\":\"x\"}",
        "MessageAttributes":{"correlation_id":{"DataType":"String","StringValue":"c"}}}"#;
    assert_eq!(
        json_call("sqs", "AmazonSQS.SendMessage", body).unwrap(),
        [Access::new("sqs:SendMessage", queue)]
    );
    let batch = r#"{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/shop-EmailQueue",
        "Entries":[{"Id":"0","MessageBody":"a"},{"Id":"1","MessageBody":"b","DelaySeconds":900}]}"#;
    assert_eq!(
        json_call("sqs", "AmazonSQS.SendMessageBatch", batch).unwrap(),
        [Access::new("sqs:SendMessage", queue)]
    );
    assert_eq!(
        json_call("sqs", "AmazonSQS.GetQueueUrl", r#"{"QueueName":"shop-EmailQueue"}"#).unwrap(),
        [Access::new("sqs:GetQueueUrl", queue)]
    );
    assert!(matches!(
        json_call(
            "sqs",
            "AmazonSQS.SendMessage",
            r#"{"QueueUrl":"http://127.0.0.1:4566/"}"#
        ),
        Err(RequestError::Malformed { .. })
    ));
}

#[test]
fn an_sqs_query_protocol_call_reads_its_form() {
    let body = "Action=DeleteMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Flocalhost%3A9324%2F\
                123456789012%2Fshop-FulfillmentQueue&DeleteMessageBatchRequestEntry.1.Id=0";
    assert_eq!(
        accesses("sqs", "POST", "/", None, body.as_bytes(), REGION, ACCOUNT).unwrap(),
        [Access::new(
            "sqs:DeleteMessage",
            "arn:aws:sqs:us-east-1:123456789012:shop-FulfillmentQueue"
        )]
    );
}

#[test]
fn sesv2_send_email_is_checked_on_the_from_identity_and_the_configuration_set() {
    let body = r#"{"FromEmailAddress":"\"Serverless Shop\" <shop@example.com>",
        "Destination":{"ToAddresses":["ada@example.org"]},"ReplyToAddresses":["merchant@example.com"],
        "Content":{"Simple":{"Subject":{"Data":"Your order"},"Body":{"Html":{"Data":"<p>Hi</p>"},"Text":{"Data":"Hi"}}}},
        "EmailTags":[{"Name":"kind","Value":"order_confirmation"}],"ConfigurationSetName":"shop-MailConfigurationSet"}"#;
    assert_eq!(
        ses_call("POST", "/v2/email/outbound-emails", body).unwrap(),
        [
            Access::new(
                "ses:SendEmail",
                "arn:aws:ses:us-east-1:123456789012:identity/shop@example.com"
            ),
            Access::new(
                "ses:SendEmail",
                "arn:aws:ses:us-east-1:123456789012:configuration-set/shop-MailConfigurationSet"
            ),
        ]
    );
    let bare = r#"{"FromEmailAddress":"shop@example.com","Destination":{"ToAddresses":["a@b.c"]},"Content":{}}"#;
    assert_eq!(
        ses_call("post", "/v2/email/outbound-emails", bare).unwrap(),
        [Access::new(
            "ses:SendEmail",
            "arn:aws:ses:us-east-1:123456789012:identity/shop@example.com"
        )]
    );
}

#[test]
fn sesv2_bulk_email_is_checked_on_the_identity_and_a_stored_template_when_named() {
    let inline = r#"{"FromEmailAddress":"Shop <shop@example.com>","DefaultContent":{"Template":{
        "TemplateContent":{"Subject":"News","Html":"<p>{{email}}</p>","Text":"{{email}}"},"TemplateData":"{}"}},
        "BulkEmailEntries":[{"Destination":{"ToAddresses":["a@b.c"]}}]}"#;
    assert_eq!(
        ses_call("POST", "/v2/email/outbound-bulk-emails", inline).unwrap(),
        [Access::new(
            "ses:SendBulkEmail",
            "arn:aws:ses:us-east-1:123456789012:identity/shop@example.com"
        )]
    );
    let stored = r#"{"FromEmailAddress":"shop@example.com","DefaultContent":{"Template":{"TemplateName":"news"}},
        "BulkEmailEntries":[]}"#;
    assert_eq!(
        ses_call("POST", "/v2/email/outbound-bulk-emails", stored).unwrap()[1],
        Access::new("ses:SendBulkEmail", "arn:aws:ses:us-east-1:123456789012:template/news")
    );
}

#[test]
fn other_sesv2_paths_map_to_their_actions_or_are_refused() {
    assert_eq!(
        ses_call("GET", "/v2/email/identities/shop%40example.com", "").unwrap(),
        [Access::new(
            "ses:GetEmailIdentity",
            "arn:aws:ses:us-east-1:123456789012:identity/shop@example.com"
        )]
    );
    assert_eq!(
        ses_call("GET", "/v2/email/account", "").unwrap(),
        [Access::new("ses:GetAccount", "*")]
    );
    assert!(matches!(
        ses_call("POST", "/v2/email/contact-lists", "{}"),
        Err(RequestError::Unsupported { .. })
    ));
    assert!(matches!(
        ses_call("POST", "/", "Action=SendEmail&Source=shop%40example.com"),
        Err(RequestError::Unsupported { .. })
    ));
    assert!(matches!(
        ses_call("POST", "/v2/email/outbound-emails", r#"{"FromEmailAddress":"Shop"}"#),
        Err(RequestError::Malformed { .. })
    ));
}

#[test]
fn ssm_get_parameter_is_checked_on_the_parameter_arn() {
    let body = r#"{"Name":"/serverless-shop/stripe/secret-key","WithDecryption":true}"#;
    let secret_key = "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/secret-key";
    assert_eq!(
        json_call("ssm", "AmazonSSM.GetParameter", body).unwrap(),
        [Access::new("ssm:GetParameter", secret_key)]
    );
    assert_eq!(
        json_call("ssm", "AmazonSSM.GetParameter", r#"{"Name":"plain:3"}"#).unwrap(),
        [Access::new(
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:123456789012:parameter/plain"
        )]
    );
    let many = r#"{"Names":["/serverless-shop/stripe/secret-key","/serverless-shop/stripe/webhook-secret"]}"#;
    assert_eq!(
        json_call("ssm", "AmazonSSM.GetParameters", many).unwrap(),
        [
            Access::new("ssm:GetParameters", secret_key),
            Access::new(
                "ssm:GetParameters",
                "arn:aws:ssm:us-east-1:123456789012:parameter/serverless-shop/stripe/webhook-secret"
            ),
        ]
    );
    assert!(matches!(
        json_call("ssm", "AmazonSSM.SendCommand", "{}"),
        Err(RequestError::Unsupported { .. })
    ));
}

fn s3_call(method: &str, path: &str) -> Result<Vec<Access>, RequestError> {
    accesses("s3", method, path, None, b"", REGION, ACCOUNT)
}

#[test]
fn an_s3_object_call_is_its_action_on_the_object() {
    let object = "arn:aws:s3:::shop-images/a%20b/c-1-320.webp";
    let decoded = "arn:aws:s3:::shop-images/a b/c-1-320.webp";
    assert_ne!(object, decoded);
    assert_eq!(
        s3_call("GET", "/shop-images/a%20b/c-1-320.webp?x-id=GetObject").unwrap(),
        [Access::new("s3:GetObject", decoded)]
    );
    assert_eq!(
        s3_call("HEAD", "/shop-images/a%20b/c-1-320.webp").unwrap(),
        [Access::new("s3:GetObject", decoded)]
    );
    assert_eq!(
        s3_call("PUT", "/shop-images/a%20b/c-1-320.webp?x-id=PutObject").unwrap(),
        [Access::new("s3:PutObject", decoded)]
    );
    assert_eq!(
        s3_call("DELETE", "/shop-images/k?x-id=DeleteObject").unwrap(),
        [Access::new("s3:DeleteObject", "arn:aws:s3:::shop-images/k")]
    );
    assert_eq!(
        s3_call("GET", "/shop-images/k?versionId=3").unwrap(),
        [Access::new("s3:GetObjectVersion", "arn:aws:s3:::shop-images/k")]
    );
}

#[test]
fn an_s3_bucket_call_is_its_action_on_the_bucket() {
    assert_eq!(
        s3_call("PUT", "/shop-images").unwrap(),
        [Access::new("s3:CreateBucket", "arn:aws:s3:::shop-images")]
    );
    assert_eq!(
        s3_call("GET", "/shop-images?list-type=2&prefix=a").unwrap(),
        [Access::new("s3:ListBucket", "arn:aws:s3:::shop-images")]
    );
    assert_eq!(s3_call("GET", "/").unwrap(), [Access::new("s3:ListAllMyBuckets", "*")]);
}

#[test]
fn an_s3_subresource_is_not_taken_for_the_plain_call() {
    for (method, path) in [
        ("PUT", "/shop-images/k?acl"),
        ("GET", "/shop-images/k?tagging"),
        ("POST", "/shop-images/k?uploads"),
        ("PUT", "/shop-images/k?partNumber=1&uploadId=x"),
        ("PUT", "/shop-images?policy"),
        ("GET", "/shop-images?acl"),
    ] {
        assert!(
            matches!(s3_call(method, path), Err(RequestError::Unsupported { .. })),
            "{method} {path}"
        );
    }
}
