//! Wildcard patterns as IAM matches actions and resource ARNs: `*` is any run of
//! characters, `?` any one; policy variables (`${aws:username}`) are replaced first, and
//! what they bring in is literal.

use crate::condition::Keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Star,
    One,
}

/// A pattern from a policy, kept as written and compiled once, when the policy is parsed:
/// matching allocates nothing unless the pattern has variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// Whether `${...}` in it are variables (policy version 2012-10-17) or literal.
    variables: bool,
    shape: Shape,
}

/// How a pattern without variables matches, cheapest first. Most patterns in real
/// policies are exact or end in their only `*` (`s3:Get*`, `arn:aws:s3:::b/home/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact,
    /// `*`.
    Any,
    /// Text then one trailing `*`: a prefix comparison.
    Prefix(usize),
    Glob(Vec<Tok>),
}

impl Pattern {
    pub fn new(text: &str, variables: bool) -> Self {
        let variables = variables && text.contains("${");
        let wild_at = text.find(['*', '?']);
        let shape = match wild_at {
            None => Shape::Exact,
            Some(_) if text == "*" => Shape::Any,
            Some(i) if i + 1 == text.len() && text.ends_with('*') => Shape::Prefix(i),
            Some(_) => {
                let mut t = Vec::new();
                push_pattern(&mut t, text);
                Shape::Glob(t)
            }
        };
        Pattern {
            text: text.to_owned(),
            variables,
            shape,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `s` matches, case-sensitively (resources, ARNs) or not (actions, which are
    /// ASCII). A variable the request has no value for matches nothing.
    pub fn matches(&self, s: &str, ignore_case: bool, keys: &dyn Keys) -> bool {
        if self.variables {
            return expand(&self.text, keys).is_some_and(|toks| wild_toks(&toks, s, ignore_case));
        }
        let same = |a: &str, b: &str| if ignore_case { a.eq_ignore_ascii_case(b) } else { a == b };
        match &self.shape {
            Shape::Exact => same(&self.text, s),
            Shape::Any => true,
            Shape::Prefix(n) => s.len() >= *n && s.is_char_boundary(*n) && same(&self.text[..*n], &s[..*n]),
            Shape::Glob(toks) => wild_toks(toks, s, ignore_case),
        }
    }
}

impl Pattern {
    /// The text with its variables replaced, for exact comparisons; `None` when a
    /// variable has no value.
    pub fn literal(&self, keys: &dyn Keys) -> Option<std::borrow::Cow<'_, str>> {
        if !self.variables {
            return Some(self.text.as_str().into());
        }
        let toks = expand(&self.text, keys)?;
        let s: String = toks
            .iter()
            .map(|t| match t {
                Tok::Lit(c) => *c,
                Tok::Star => '*',
                Tok::One => '?',
            })
            .collect();
        Some(s.into())
    }
}

/// `*`/`?` matching of a pattern without variables, compiled on the spot.
pub fn wild(pattern: &str, s: &str, ignore_case: bool) -> bool {
    Pattern::new(pattern, false).matches(s, ignore_case, &crate::condition::Context::default())
}

/// Replaces `${key}` with the request's value of `key`; `${*}`, `${?}` and `${$}` are the
/// literal characters. `None` when a variable has no single value.
fn expand(text: &str, keys: &dyn Keys) -> Option<Vec<Tok>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        push_pattern(&mut out, &rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            push_pattern(&mut out, &rest[i..]);
            return Some(out);
        };
        let name = after[..end].trim();
        match name {
            "*" | "?" | "$" => out.push(Tok::Lit(name.chars().next().unwrap_or('$'))),
            _ => match keys.get(name).as_deref() {
                Some([v]) => out.extend(v.chars().map(Tok::Lit)),
                _ => return None,
            },
        }
        rest = &after[end + 1..];
    }
    push_pattern(&mut out, rest);
    Some(out)
}

fn push_pattern(out: &mut Vec<Tok>, s: &str) {
    out.extend(s.chars().map(|c| match c {
        '*' => Tok::Star,
        '?' => Tok::One,
        c => Tok::Lit(c),
    }));
}

/// Iterative glob matching with backtracking to the last star, over the input's chars in
/// place: O(pattern × input) at worst, never exponential, and no allocation.
fn wild_toks(p: &[Tok], s: &str, ignore_case: bool) -> bool {
    let eq = |a: char, b: char| a == b || (ignore_case && a.eq_ignore_ascii_case(&b));
    let at = |i: usize| s[i..].chars().next().unwrap_or('\0');
    let (mut pi, mut si) = (0, 0);
    // The last star's token index and the input position it is tried at.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let c = at(si);
        match p.get(pi) {
            Some(Tok::Star) => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(Tok::One) => {
                pi += 1;
                si += c.len_utf8();
            }
            Some(Tok::Lit(l)) if eq(*l, c) => {
                pi += 1;
                si += c.len_utf8();
            }
            _ => match star {
                Some((sp, ss)) => {
                    let next = ss + at(ss).len_utf8();
                    pi = sp + 1;
                    si = next;
                    star = Some((sp, next));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("s3:Get*", "s3:GetObject", true),
            ("s3:Get*", "s3:PutObject", false),
            ("s3:*Object", "s3:GetObject", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false),
            ("arn:aws:s3:::b/*/x*", "arn:aws:s3:::b/a/b/xyz", true),
            ("arn:aws:s3:::b/*/x*", "arn:aws:s3:::b/a/b/y", false),
            ("*a*a*a*a*a*b", &"a".repeat(60), false),
            ("k/é?/*", "k/éü/x", true),
            ("k/?", "k/ü", true),
            ("ab*", "a", false),
            ("ab*", "ab", true),
            ("é*", "éa", true),
            ("é*", "\u{e8}a", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(wild(p, s, false), want, "{p} vs {s}");
        }
        // Actions ignore case, resources do not.
        assert!(wild("s3:getobject", "s3:GetObject", true));
        assert!(!wild("arn:aws:s3:::B", "arn:aws:s3:::b", false));
    }

    #[test]
    fn variables_are_replaced_by_literal_values() {
        let mut ctx = crate::condition::Context::default();
        ctx.set("aws:username", "al*ce");
        let p = Pattern::new("arn:aws:s3:::b/home/${aws:username}/*", true);
        assert!(p.matches("arn:aws:s3:::b/home/al*ce/f", false, &ctx));
        // The `*` the value brought in is literal.
        assert!(!p.matches("arn:aws:s3:::b/home/alice/f", false, &ctx));
        // No value: no match. Version 2008-10-17: no variables.
        assert!(!Pattern::new("${aws:userid}", true).matches("x", false, &ctx));
        assert!(Pattern::new("${x}", false).matches("${x}", false, &ctx));
        assert!(Pattern::new("a${*}", true).matches("a*", false, &ctx));
        assert!(!Pattern::new("a${*}", true).matches("ab", false, &ctx));
    }
}
