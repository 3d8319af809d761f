//! The documentation in `docs/` that is written from the code: checked
//! against it, so it cannot drift. `SPANLENS_UPDATE_DOCS=1 cargo test docs`
//! rewrites the generated parts.

use crate::common::root;

/// Replace the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
/// of `doc` with `generated`, or assert it equals it.
fn generated_section(doc: &str, name: &str, generated: &str) {
    let path = root().join("docs").join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = (
        format!("<!-- {name}:begin -->\n"),
        format!("<!-- {name}:end -->"),
    );
    let a = text.find(&begin).expect("begin marker") + begin.len();
    let b = text.find(&end).expect("end marker");
    if std::env::var_os("SPANLENS_UPDATE_DOCS").is_some() {
        let new = format!("{}{generated}{}", &text[..a], &text[b..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    assert_eq!(
        &text[a..b],
        generated,
        "docs/{doc} is out of date with the code: run SPANLENS_UPDATE_DOCS=1 cargo test docs"
    );
}

/// Every default attribute name, in precedence order, with the field it
/// feeds, its convention and the convention's version.
#[test]
fn the_alias_documentation_lists_every_name() {
    use spanlens::ingest::aliases::{AliasTable, CacheRule, Unit};
    let t = AliasTable::default();
    let mut md = String::from(
        "| field | attribute | convention | version | read as |\n| --- | --- | --- | --- | --- |\n",
    );
    for a in &t.aliases {
        let unit = match a.unit {
            Unit::Text => "text",
            Unit::Count => match a.cache_rule {
                CacheRule::Inclusive => "count",
                CacheRule::ProviderDependent => "count (cache: by provider)",
                CacheRule::Legacy => "count (legacy: Anthropic excludes cache)",
            },
            Unit::Usd => "USD",
            Unit::Seconds => "seconds",
            Unit::Millis => "milliseconds",
            Unit::Timestamp => "timestamp",
            Unit::Map => "JSON map",
        };
        md.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            a.field.config_name(),
            a.name,
            a.convention.as_str(),
            a.convention.version(),
            unit
        ));
    }
    generated_section("aliases.md", "aliases", &md);
}
