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
    /// Defaults for the shared report options (every flag can live here).
    #[serde(default)]
    pub report: ReportConfig,
    /// How rates are judged.
    #[serde(default)]
    pub slo: SloConfig,
    #[serde(default, rename = "objective")]
    pub objectives: Vec<ObjectiveConfig>,
    #[serde(default)]
    pub cost: CostConfig,
    #[serde(default)]
    pub prices: PricesConfig,
    #[serde(default, rename = "budget")]
    pub budgets: Vec<BudgetConfig>,
    #[serde(default)]
    pub drift: DriftConfig,
    #[serde(default)]
    pub compare: CompareConfig,
    #[serde(default)]
    pub anomalies: AnomaliesConfig,
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// How the file was found when not named with `--config` (for the
    /// reports' meta: a file left in a directory changes results).
    #[serde(skip)]
    pub found: Option<String>,
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

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    pub by: Option<Vec<String>>,
    #[serde(rename = "where")]
    pub filters: Option<Vec<String>>,
    pub min_count: Option<u64>,
    pub top: Option<usize>,
    #[serde(alias = "span_type")]
    pub kind: Option<String>,
    pub stale_after: Option<String>,
    pub current: Option<String>,
    pub baseline: Option<String>,
    pub until: Option<String>,
    pub tz: Option<String>,
    pub fail_on: Option<Vec<String>>,
    pub format: Option<String>,
    pub percentiles: Option<String>,
    pub engine: Option<String>,
    pub remote: Option<String>,
    pub max_rows: Option<usize>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct SloConfig {
    /// Finish reasons counted as refusals.
    pub refusal_reasons: Vec<String>,
    /// Evaluation labels that pass / fail (compared lower-case).
    pub pass_labels: Vec<String>,
    pub fail_labels: Vec<String>,
    /// A numeric score without a known label passes at >= this.
    pub score_threshold: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        SloConfig {
            refusal_reasons: v(&["content_filter", "refusal"]),
            pass_labels: v(&[
                "pass", "passed", "correct", "true", "yes", "good", "relevant", "factual", "ok",
            ]),
            fail_labels: v(&[
                "fail",
                "failed",
                "incorrect",
                "false",
                "no",
                "bad",
                "irrelevant",
                "hallucinated",
                "refusal",
            ]),
            score_threshold: 0.5,
        }
    }
}

/// One objective (`[[objective]]` in spanlens.toml or the --objectives file).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    pub name: String,
    /// availability | latency | ttft | quality | cost
    pub sli: String,
    /// e.g. 0.995
    pub target: f64,
    /// default 30d
    pub period: Option<String>,
    /// latency and ttft: the threshold T of "<= T"
    pub threshold_ms: Option<f64>,
    /// quality: the evaluation name
    pub evaluation: Option<String>,
    /// cost: the most a trace may cost
    pub max_usd: Option<f64>,
    /// cohort selector, --where syntax
    #[serde(rename = "where", default)]
    pub selector: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Price tables (LiteLLM JSON, Langfuse export or CSV), applied over the embedded ones in order.
    #[serde(default)]
    pub prices: Vec<PathBuf>,
    #[serde(default)]
    pub recompute: bool,
    pub top_traces: Option<usize>,
}

/// `[prices]`: model names spans carry that no table knows (an Azure
/// deployment's name), each mapped to the model it runs.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct PricesConfig {
    #[serde(default)]
    pub aliases: std::collections::BTreeMap<String, String>,
}

/// `[drift]`: fields compared besides (or instead of) the defaults.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    #[serde(default)]
    pub fields: Vec<String>,
    /// false: only `fields` (and --field)
    pub default_fields: Option<bool>,
}

/// `[compare]`: the regression gate's settings.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    pub alpha: Option<f64>,
    /// metric -> minimum effect (rates in absolute shares, the others relative)
    #[serde(default)]
    pub min_effect: BTreeMap<String, f64>,
    /// the metrics gated (default: all)
    pub metrics: Option<Vec<String>>,
    pub seed: Option<u64>,
    pub candidate: Option<String>,
}

/// `[anomalies]`: suppression windows and rule settings.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnomaliesConfig {
    /// windows (A..B) in which no anomaly is reported
    #[serde(default)]
    pub suppress: Vec<String>,
    /// minutes after a prompt version first appears with no anomaly (default 30; 0 = off)
    pub deploy_quiet_minutes: Option<u64>,
    /// agent loops: the fewest LLM calls in a trace that count (default 10)
    pub loop_floor: Option<u64>,
    /// joint alerts: every signal in one cohort
    #[serde(default)]
    pub composite: Vec<CompositeConfig>,
}

/// `[[anomalies.composite]] name = "...", all = ["regressed:pass_rate", "spend_spike"]`
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CompositeConfig {
    pub name: String,
    /// anomaly kinds (error_burst, spend_spike, ...) and `regressed:METRIC`
    /// (the report window against the baseline, as `compare` judges it)
    pub all: Vec<String>,
}

/// `[[budget]] usd = 100, per = "day", where = ["tenant=acme"]`
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub usd: f64,
    /// day | month | window (default)
    pub per: Option<String>,
    #[serde(rename = "where", default)]
    pub selector: Vec<String>,
}

/// The `--objectives FILE` document: `[[objective]]` tables only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectivesFile {
    #[serde(default, rename = "objective")]
    pub objectives: Vec<ObjectiveConfig>,
}

/// A budget in USD: finite and above zero.
pub fn check_budget_usd(usd: f64) -> std::result::Result<(), String> {
    if usd > 0.0 && usd.is_finite() {
        Ok(())
    } else {
        Err(format!("{usd} is not an amount above zero"))
    }
}

/// The compare gate's family-wise significance level: in (0, 1).
pub fn check_alpha(a: f64) -> std::result::Result<(), String> {
    if a > 0.0 && a < 1.0 {
        Ok(())
    } else {
        Err(format!("{a} is not in (0, 1)"))
    }
}

/// A minimum effect: finite and >= 0.
pub fn check_min_effect(v: f64) -> std::result::Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{v} is not a number >= 0"))
    }
}

/// Parse a TOML document, errors naming the file and line.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    hint: &str,
) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let msg = e.message().to_string();
        let line = e
            .span()
            .map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
        Error::usage(
            match line {
                Some(l) => format!("{}:{l}: {msg}", path.display()),
                None => format!("{}: {msg}", path.display()),
            },
            hint.to_string(),
        )
    })
}

/// Read the `--objectives` file.
pub fn load_objectives(path: &Path) -> Result<Vec<ObjectiveConfig>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(
            format!(
                "cannot read objectives {}: {}",
                path.display(),
                crate::error::io_text(&e)
            ),
            "check the --objectives path",
        )
    })?;
    let f: ObjectivesFile = parse_toml(
        &text,
        path,
        "an objectives file holds [[objective]] tables: name, sli, target, period, threshold_ms, evaluation, max_usd, where",
    )?;
    Ok(f.objectives)
}

impl Config {
    /// `explicit` from `--config`; otherwise `./spanlens.toml` if present.
    /// The configuration file: `--config`, else `$SPANLENS_CONFIG`, else the
    /// first `spanlens.toml` in the working directory or one above it (as
    /// cargo and ruff find theirs); none is the defaults. Relative paths in
    /// it are read from the file's directory.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let from_env = std::env::var_os("SPANLENS_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let (path, hint, found) = match (explicit, from_env) {
            (Some(p), _) => (p.to_path_buf(), "check the --config path", None),
            (None, Some(p)) => {
                let how = format!("{} (SPANLENS_CONFIG)", p.display());
                (p, "check SPANLENS_CONFIG", Some(how))
            }
            (None, None) => match std::env::current_dir().ok().and_then(|d| find_upward(&d)) {
                Some(p) => {
                    let how = format!("{} (found from the working directory)", p.display());
                    (
                        p,
                        "check the spanlens.toml found above the working directory",
                        Some(how),
                    )
                }
                None => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::usage(
                format!(
                    "cannot read config {}: {}",
                    path.display(),
                    crate::error::io_text(&e)
                ),
                hint,
            )
        })?;
        let mut c = Config::parse(&text, &path)?;
        c.resolve_paths();
        c.found = found;
        Ok(c)
    }

    /// Price table paths written relative to the file are read from its
    /// directory, wherever spanlens runs.
    fn resolve_paths(&mut self) {
        let Some(dir) = self.path.as_deref().and_then(Path::parent) else {
            return;
        };
        for p in &mut self.cost.prices {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut c: Config = parse_toml(
            text,
            path,
            "see the README's spanlens.toml section for the accepted keys",
        )?;
        c.path = Some(path.to_path_buf());
        c.validate().map_err(|e| {
            Error::usage(
                format!("{}: {e}", path.display()),
                "see the README's spanlens.toml section",
            )
        })?;
        Ok(c)
    }

    /// The numbers a flag would refuse are refused here too, by the same
    /// checks (a NaN alpha or budget must not switch a gate off).
    fn validate(&self) -> std::result::Result<(), String> {
        for b in &self.budgets {
            check_budget_usd(b.usd).map_err(|e| format!("[[budget]] usd: {e}"))?;
        }
        if let Some(a) = self.compare.alpha {
            check_alpha(a).map_err(|e| format!("[compare] alpha: {e}"))?;
        }
        for (k, v) in &self.compare.min_effect {
            check_min_effect(*v).map_err(|e| format!("[compare] min_effect.{k}: {e}"))?;
        }
        if !self.slo.score_threshold.is_finite() {
            return Err(format!(
                "[slo] score_threshold: {} is not a number",
                self.slo.score_threshold
            ));
        }
        Ok(())
    }

    pub fn field_overrides(&self) -> Vec<(String, Vec<String>)> {
        self.fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The first `spanlens.toml` in `dir` or a directory above it.
pub fn find_upward(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("spanlens.toml"))
        .find(|p| p.is_file())
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
