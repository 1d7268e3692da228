use super::*;
use crate::iam::sam_templates::SamPolicyTemplates;

const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/shop-ShopTable";

fn context() -> Context {
    let mut context = Context::default();
    context.refs.insert("AWS::Partition".into(), "aws".into());
    context.attrs.insert("ShopTable.Arn".into(), TABLE.into());
    context
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("test YAML")
}

fn document(text: &str) -> Policy {
    Policy::from_document(&yaml(text), &context()).unwrap_or_else(|e| panic!("{e}"))
}

fn policies(text: &str) -> Result<Policy, IamError> {
    Policy::from_template(Some(&yaml(text)), &context(), &SamPolicyTemplates::none())
}

#[test]
fn action_wildcards_match_any_run_or_one_character_ignoring_case() {
    let policy =
        document("Statement: [{Effect: Allow, Action: ['dynamodb:Get*', 'sqs:?eceiveMessage'], Resource: '*'}]");
    assert_eq!(policy.decide("dynamodb:GetItem", TABLE), Decision::Allow);
    assert_eq!(policy.decide("DynamoDB:getitem", TABLE), Decision::Allow);
    assert_eq!(policy.decide("dynamodb:Get", TABLE), Decision::Allow);
    assert_eq!(policy.decide("dynamodb:PutItem", TABLE), Decision::ImplicitDeny);
    assert_eq!(
        policy.decide("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:1:q"),
        Decision::Allow
    );
    assert_eq!(
        policy.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"),
        Decision::ImplicitDeny
    );
    let everything = document("Statement: {Effect: Allow, Action: '*', Resource: '*'}");
    assert_eq!(
        everything.decide("iam:CreateUser", "arn:aws:iam::1:user/x"),
        Decision::Allow
    );
}

#[test]
fn resources_match_with_case_and_wildcards_across_slashes_and_colons() {
    let policy = document(
        "Statement: [{Effect: Allow, Action: 'dynamodb:GetItem', Resource: ['arn:aws:dynamodb:*:table/shop-*', \
         'arn:aws:dynamodb:us-east-1:123456789012:table/t?']}]",
    );
    assert_eq!(policy.decide("dynamodb:GetItem", TABLE), Decision::Allow);
    assert_eq!(
        policy.decide("dynamodb:GetItem", &TABLE.replace("shop-", "Shop-")),
        Decision::ImplicitDeny
    );
    assert_eq!(
        policy.decide("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t1"),
        Decision::Allow
    );
    assert_eq!(
        policy.decide("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t12"),
        Decision::ImplicitDeny
    );
}

#[test]
fn a_table_grant_covers_neither_its_indexes_nor_its_streams() {
    let table_only =
        document("Statement: [{Effect: Allow, Action: 'dynamodb:Query', Resource: !GetAtt ShopTable.Arn}]");
    assert_eq!(table_only.decide("dynamodb:Query", TABLE), Decision::Allow);
    assert_eq!(
        table_only.decide("dynamodb:Query", &format!("{TABLE}/index/gsi1")),
        Decision::ImplicitDeny
    );
    let stream = format!("{TABLE}/stream/2026-01-01T00:00:00.000");
    assert_eq!(
        table_only.decide("dynamodb:GetRecords", &stream),
        Decision::ImplicitDeny
    );

    let with_indexes = document(
        "Statement: [{Effect: Allow, Action: ['dynamodb:Query', 'dynamodb:GetRecords'], \
         Resource: [!GetAtt ShopTable.Arn, !Sub '${ShopTable.Arn}/index/*', !Sub '${ShopTable.Arn}/stream/*']}]",
    );
    assert_eq!(
        with_indexes.decide("dynamodb:Query", &format!("{TABLE}/index/gsi1")),
        Decision::Allow
    );
    assert_eq!(with_indexes.decide("dynamodb:GetRecords", &stream), Decision::Allow);
}

#[test]
fn an_explicit_deny_beats_any_allow() {
    let policy = document(
        "Statement: [{Effect: Allow, Action: 'dynamodb:*', Resource: '*'}, \
         {Effect: Deny, Action: 'dynamodb:DeleteItem', Resource: !GetAtt ShopTable.Arn}]",
    );
    assert_eq!(policy.decide("dynamodb:DeleteItem", TABLE), Decision::ExplicitDeny);
    assert_eq!(policy.decide("dynamodb:PutItem", TABLE), Decision::Allow);
    let denied = policy
        .authorize(&[
            Access::new("dynamodb:PutItem", TABLE),
            Access::new("dynamodb:DeleteItem", TABLE),
            Access::new("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"),
        ])
        .unwrap_err();
    assert_eq!(denied.access, Access::new("dynamodb:DeleteItem", TABLE));
    assert!(denied.explicit);
    assert!(denied.to_string().contains("explicit deny"), "{denied}");
}

#[test]
fn not_action_and_not_resource_cover_everything_but_what_they_list() {
    let policy = document(
        "Statement: [{Effect: Allow, NotAction: 'dynamodb:Delete*', Resource: !GetAtt ShopTable.Arn}, \
         {Effect: Deny, Action: 'sqs:*', NotResource: 'arn:aws:sqs:us-east-1:1:mine'}, \
         {Effect: Allow, Action: 'sqs:SendMessage', Resource: '*'}]",
    );
    assert_eq!(policy.decide("dynamodb:PutItem", TABLE), Decision::Allow);
    assert_eq!(policy.decide("dynamodb:DeleteItem", TABLE), Decision::ImplicitDeny);
    assert_eq!(
        policy.decide("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:1:table/x"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        policy.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:mine"),
        Decision::Allow
    );
    assert_eq!(
        policy.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:theirs"),
        Decision::ExplicitDeny
    );
}

#[test]
fn an_action_no_statement_names_is_implicitly_denied() {
    let policy = document("Statement: [{Effect: Allow, Action: 'dynamodb:GetItem', Resource: '*'}]");
    assert_eq!(policy.decide("dynamodb:Scan", TABLE), Decision::ImplicitDeny);
    let denied = policy.authorize(&[Access::new("dynamodb:Scan", TABLE)]).unwrap_err();
    assert!(!denied.explicit);
    assert!(
        denied.to_string().contains("no identity-based policy allows"),
        "{denied}"
    );
    assert_eq!(
        Policy::default().decide("dynamodb:GetItem", TABLE),
        Decision::ImplicitDeny
    );
    assert!(policy.authorize(&[Access::new("dynamodb:GetItem", TABLE)]).is_ok());
}

#[test]
fn a_statement_with_a_condition_is_refused() {
    let error = policies(
        "- Statement:\n    - Effect: Allow\n      Action: sqs:SendMessage\n      Resource: '*'\n      \
         Condition: {ArnEquals: {aws:SourceArn: 'arn:aws:sns:us-east-1:1:t'}}",
    )
    .unwrap_err();
    assert!(
        matches!(&error, IamError::Condition { location } if location == "Policies[0].Statement[0]"),
        "{error}"
    );
}

#[test]
fn malformed_statements_are_refused_with_where_and_why() {
    for (statement, why) in [
        ("{Effect: allow, Action: 'sqs:SendMessage', Resource: '*'}", "Effect"),
        (
            "{Effect: Allow, Action: 'sqs:SendMessage', NotAction: 'sqs:X', Resource: '*'}",
            "both",
        ),
        ("{Effect: Allow, Action: 'sqs:SendMessage'}", "neither Resource"),
        (
            "{Effect: Allow, Action: 'SendMessage', Resource: '*'}",
            "service:Action",
        ),
        ("{Effect: Allow, Action: [], Resource: '*'}", "non-empty"),
        (
            "{Effect: Allow, Action: 'sqs:SendMessage', Resource: 'shop-queue'}",
            "not an ARN",
        ),
        (
            "{Effect: Allow, Principal: '*', Action: 'sqs:SendMessage', Resource: '*'}",
            "Principal",
        ),
        (
            "{Effect: Allow, Actions: 'sqs:SendMessage', Resource: '*'}",
            "unknown statement field",
        ),
    ] {
        let error = policies(&format!("[{{Statement: [{statement}]}}]")).unwrap_err();
        assert!(error.to_string().contains(why), "{statement}: {error}");
        assert!(error.to_string().starts_with("Policies[0].Statement[0]"), "{error}");
    }
}

#[test]
fn a_single_document_and_a_single_managed_policy_are_legal_forms() {
    let single =
        policies("{Version: '2012-10-17', Statement: [{Effect: Allow, Action: 'sqs:SendMessage', Resource: '*'}]}")
            .unwrap();
    assert_eq!(
        single.decide("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"),
        Decision::Allow
    );
    let basic = policies("AWSLambdaBasicExecutionRole").unwrap();
    assert_eq!(
        basic.decide("logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:x"),
        Decision::Allow
    );
    assert_eq!(basic.decide("dynamodb:GetItem", TABLE), Decision::ImplicitDeny);
    assert!(
        policies("[]")
            .unwrap()
            .authorize(&[Access::new("logs:PutLogEvents", "*")])
            .is_err()
    );
    assert_eq!(
        Policy::from_template(None, &context(), &SamPolicyTemplates::none())
            .unwrap()
            .decide("logs:PutLogEvents", "*"),
        Decision::ImplicitDeny
    );
}

#[test]
fn managed_policies_that_grant_only_logs_and_traces_are_known_by_name_or_arn() {
    let policy = policies(
        "- arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole\n\
         - !Sub arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess",
    )
    .unwrap();
    assert_eq!(policy.decide("logs:CreateLogStream", "*"), Decision::Allow);
    assert_eq!(policy.decide("xray:PutTraceSegments", "*"), Decision::Allow);
    assert_eq!(policy.decide("logs:DeleteLogGroup", "*"), Decision::ImplicitDeny);
}

#[test]
fn any_other_managed_policy_is_refused() {
    for name in [
        "AmazonDynamoDBFullAccess",
        "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
        "arn:aws:iam::123456789012:policy/AWSLambdaBasicExecutionRole",
    ] {
        let error = policies(&format!("[{name}]")).unwrap_err();
        assert!(
            matches!(&error, IamError::UnknownManagedPolicy { name: refused, .. } if refused == name),
            "{name}: {error}"
        );
    }
}

#[test]
fn a_conditional_policy_item_is_refused() {
    let error = policies("[!If [HasThing, AWSLambdaBasicExecutionRole, !Ref AWS::NoValue]]").unwrap_err();
    assert!(error.to_string().contains("Fn::If"), "{error}");
}
