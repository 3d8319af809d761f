//! `spanlens.toml`: found in the working directory or given with `--config`.
//! Unknown sections and keys are errors (a typo must not be ignored).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Extra attribute names per canonical field, tried before the defaults.
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Keep prompt/completion text attributes in `attrs`.
    #[serde(default)]
    pub include_text: bool,
    /// Providers whose input tokens exclude cached tokens in every convention.
    #[serde(default)]
    pub exclusive_input_providers: Vec<String>,
    /// Rejected records allowed before exit 3.
    #[serde(default)]
    pub max_bad: Option<u64>,
}

impl Config {
    /// `explicit` from `--config`; otherwise `./spanlens.toml` if present.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from("spanlens.toml");
                if !p.is_file() {
                    return Ok(Config::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::usage(
                format!(
                    "cannot read config {}: {}",
                    path.display(),
                    crate::error::io_text(&e)
                ),
                "check the --config path",
            )
        })?;
        Config::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut c: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let line = e
                .span()
                .map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
            Error::usage(
                match line {
                    Some(l) => format!("{}:{l}: {msg}", path.display()),
                    None => format!("{}: {msg}", path.display()),
                },
                "see the README's spanlens.toml section for the accepted keys",
            )
        })?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    pub fn field_overrides(&self) -> Vec<(String, Vec<String>)> {
        self.fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_unknown_keys() {
        let c = Config::parse(
            "[fields]\nprompt_version = [\"app.prompt.version\"]\n[ingest]\nexclusive_input_providers=[\"anthropic\"]\n",
            Path::new("spanlens.toml"),
        )
        .unwrap();
        assert_eq!(c.fields["prompt_version"], vec!["app.prompt.version"]);
        assert_eq!(c.ingest.exclusive_input_providers, vec!["anthropic"]);
        let e = Config::parse("[feilds]\nx=[]\n", Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().starts_with("s.toml:1:"), "{e}");
    }
}
