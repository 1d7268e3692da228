//! IAM's wildcard patterns: `*` stands for any run of characters (`/` and `:` included), `?` for
//! exactly one. Actions compare without regard to case, resource ARNs with it.

/// One `Action` or `Resource` value of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The pattern's characters, lower-cased when the comparison ignores case.
    chars: Vec<char>,
    ignore_case: bool,
}

impl Pattern {
    /// An action pattern, such as `dynamodb:Get*` (compared ignoring case).
    pub(crate) fn action(text: &str) -> Self {
        Self {
            chars: text.to_lowercase().chars().collect(),
            ignore_case: true,
        }
    }

    /// A resource pattern, such as `arn:aws:dynamodb:*:*:table/shop-*` (compared with case).
    pub(crate) fn resource(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            ignore_case: false,
        }
    }

    /// Whether `value` is one of the strings the pattern stands for.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let value: Vec<char> = if self.ignore_case {
            value.to_lowercase().chars().collect()
        } else {
            value.chars().collect()
        };
        glob(&self.chars, &value)
    }
}

/// Wildcard matching that backtracks only to the last `*` seen, so it stays linear in practice.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the first character of `text` it does not yet cover.
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star, covered)) => {
                    p = star + 1;
                    t = covered + 1;
                    last_star = Some((star, covered + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_covers_any_run_of_characters_slashes_and_colons_included() {
        let pattern = Pattern::resource("arn:aws:dynamodb:*:table/shop-*");
        assert!(pattern.matches("arn:aws:dynamodb:us-east-1:123456789012:table/shop-ShopTable"));
        assert!(pattern.matches("arn:aws:dynamodb:us-east-1:123456789012:table/shop-T/index/gsi1"));
        assert!(pattern.matches("arn:aws:dynamodb::table/shop-"));
        assert!(!pattern.matches("arn:aws:dynamodb:us-east-1:123456789012:table/other"));
        assert!(Pattern::resource("*").matches(""));
        assert!(Pattern::resource("a*b*c").matches("aXbYbZc"));
        assert!(!Pattern::resource("a*b*c").matches("aXbYbZ"));
    }

    #[test]
    fn a_question_mark_is_exactly_one_character() {
        let pattern = Pattern::resource("table/t?");
        assert!(pattern.matches("table/t1"));
        assert!(!pattern.matches("table/t"));
        assert!(!pattern.matches("table/t12"));
    }

    #[test]
    fn actions_ignore_case_and_resources_do_not() {
        assert!(Pattern::action("dynamodb:GetItem").matches("DynamoDB:getitem"));
        assert!(Pattern::action("DYNAMODB:get*").matches("dynamodb:GetItem"));
        assert!(!Pattern::resource("table/Shop").matches("table/shop"));
    }
}
