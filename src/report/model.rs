//! The typed report every command returns: raw numbers in tables, the
//! findings a gate can act on, and the facts a reader needs (window,
//! engine, percentile method, price table). Renderers only format it.

use std::collections::BTreeMap;

use serde::Serialize;

/// How a column's raw value is shown to people (JSON, CSV and Parquet
/// carry the raw value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Text,
    Count,
    /// a share in [0, 1], shown as a percentage
    Share,
    Ms,
    Usd,
    /// a plain number (burn rates)
    Number,
    /// tokens (a count, a mean or a bound), shown without decimals
    Tokens,
    /// UTC nanoseconds, shown as RFC 3339
    Time,
    /// a test statistic or p-value: 4 decimals, scientific below 1e-4
    Stat,
    /// Each row's own unit, from [`Table::row_units`] (a long table mixing
    /// rates, milliseconds and USD, such as compare's).
    PerRow,
    /// a list of ids ([`Cell::List`]): `list<string>` in Parquet even
    /// when the table has no rows
    List,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Null,
    Text(String),
    /// Values to act on one by one (trace ids to open): a list in JSON and
    /// Parquet, space-separated where text is shown, and never cut short.
    List(Vec<String>),
    Int(i64),
    Num(f64),
    /// A number shown with a low-confidence mark (a percentile with small n).
    Low(f64),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub fn count(n: u64) -> Cell {
        Cell::Int(n as i64)
    }
    pub fn opt(v: Option<f64>) -> Cell {
        match v {
            Some(x) if !x.is_nan() => Cell::Num(x),
            _ => Cell::Null,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(x) | Cell::Low(x) => Some(*x),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub name: String,
    pub unit: Unit,
    /// shown in a terminal table only with `--wide` (or when piped)
    #[serde(skip)]
    pub wide: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    /// snake_case; the JSON key and the Parquet/CSV table name
    pub name: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// A line printed under the table by human formats (legend of marks).
    #[serde(skip)]
    pub footnote: Option<String>,
    /// The unit of each row for [`Unit::PerRow`] columns.
    #[serde(skip)]
    pub row_units: Vec<Unit>,
    /// How many of the first columns are cohort keys (kept in every view).
    #[serde(skip)]
    pub keys: usize,
    /// The columns a terminal too narrow for the table leaves out first,
    /// in order; `a+b` go together (an interval's two ends).
    #[serde(skip)]
    pub drop_order: Vec<String>,
}

impl Table {
    pub fn new(name: &str, title: &str, columns: &[(&str, Unit)]) -> Table {
        Table {
            name: name.into(),
            title: title.into(),
            columns: columns
                .iter()
                .map(|(n, u)| Column {
                    name: (*n).into(),
                    unit: *u,
                    wide: false,
                })
                .collect(),
            rows: Vec::new(),
            footnote: None,
            row_units: Vec::new(),
            keys: 0,
            drop_order: Vec::new(),
        }
    }

    /// What a narrow terminal leaves out first ([`Table::drop_order`]);
    /// the other columns then go from the right.
    pub fn drop_first(mut self, names: &[&str]) -> Table {
        for n in names {
            debug_assert!(
                n.split('+')
                    .all(|c| self.columns.iter().any(|x| x.name == c)),
                "{}: no column {n}",
                self.name
            );
        }
        self.drop_order = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Columns a terminal shows only with `--wide`: the least read ones,
    /// so the default view fits the screen.
    pub fn wide(mut self, names: &[&str]) -> Table {
        for n in names {
            let c = self.columns.iter_mut().find(|c| c.name == *n);
            debug_assert!(c.is_some(), "{}: no column {n}", self.name);
            if let Some(c) = c {
                c.wide = true;
            }
        }
        self
    }

    /// A table whose first columns are the cohort keys.
    pub fn with_keys(name: &str, title: &str, keys: &[String], columns: &[(&str, Unit)]) -> Table {
        let mut t = Table::new(name, title, columns);
        let mut cols: Vec<Column> = keys
            .iter()
            .map(|k| Column {
                name: k.clone(),
                unit: Unit::Text,
                wide: false,
            })
            .collect();
        cols.append(&mut t.columns);
        t.columns = cols;
        t.keys = keys.len();
        t
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width of {}", self.name);
        self.rows.push(row);
    }

    /// The unit a cell of row `row`, column `col` is shown in.
    pub fn unit_at(&self, row: usize, col: usize) -> Unit {
        match self.columns[col].unit {
            Unit::PerRow => self.row_units.get(row).copied().unwrap_or(Unit::Number),
            u => u,
        }
    }
}

/// What a finding is about: the one list the reports make findings of, the
/// gate (`--fail-on`) accepts and its help shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Breach,
    Regression,
    Drift,
    Anomaly,
    Inconclusive,
    /// a comparison none of whose rows could be judged
    Unjudged,
    Unpriced,
    Budget,
    Stale,
}

impl FindingKind {
    pub const ALL: [FindingKind; 9] = [
        FindingKind::Breach,
        FindingKind::Regression,
        FindingKind::Drift,
        FindingKind::Anomaly,
        FindingKind::Inconclusive,
        FindingKind::Unjudged,
        FindingKind::Unpriced,
        FindingKind::Budget,
        FindingKind::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Breach => "breach",
            FindingKind::Regression => "regression",
            FindingKind::Drift => "drift",
            FindingKind::Anomaly => "anomaly",
            FindingKind::Inconclusive => "inconclusive",
            FindingKind::Unjudged => "unjudged",
            FindingKind::Unpriced => "unpriced",
            FindingKind::Budget => "budget",
            FindingKind::Stale => "stale",
        }
    }

    /// What raises it, for `--fail-on`'s help.
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::Breach => "an objective out of budget (slo, report)",
            FindingKind::Regression => "a candidate worse than its baseline (compare, report)",
            FindingKind::Drift => "a field whose distribution moved (drift, report)",
            FindingKind::Anomaly => "an anomaly rule fired (anomalies, report)",
            FindingKind::Inconclusive => {
                "a metric with too few spans or traces to judge (compare, report)"
            }
            FindingKind::Unjudged => {
                "a comparison of which nothing could be judged; a regression or inconclusive \
                 gate trips on it too (compare, report)"
            }
            FindingKind::Unpriced => "spans of a model no price table prices (cost, report)",
            FindingKind::Budget => "spend over a budget (cost, report)",
            FindingKind::Stale => "the newest span older than --stale-after (every report)",
        }
    }

    /// A kind by name, any case.
    pub fn parse(s: &str) -> Option<FindingKind> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a `--fail-on` gate can act on: a sentence for people and the
/// same facts as fields for machines (docs/cli.md "Output formats",
/// docs/spanlens.schema.json).
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: FindingKind,
    pub message: String,
    /// How strongly it calls for attention, one scale for every kind (1:
    /// at its rule's threshold; 2 and above: critical): the report's first
    /// screen ranks every finding by it. See [`Finding::CRITICAL`].
    pub strength: f64,
    /// the cohort it is about, by key name (`--by`); None: the whole run
    pub cohort: Option<BTreeMap<String, String>>,
    /// the objective, metric, field, rule or budget it is about
    pub metric: Option<String>,
    /// the value measured (SLI, candidate value, PSI, spend, anomaly value)
    pub observed: Option<f64>,
    /// what it was held against (target, baseline value, the anomaly's
    /// expected value, budget)
    pub expected: Option<f64>,
    /// the p-value behind it (Holm-adjusted for comparisons)
    pub p: Option<f64>,
    /// who caused it, when one value of a dimension explains it
    pub cause: Option<Cause>,
    /// traces to open, most telling first
    pub trace_ids: Vec<String>,
}

/// What explains a finding: the value of a dimension (model, tenant, ...)
/// that holds most of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cause {
    pub field: String,
    pub value: String,
    /// its share of the finding's measure (errors, spend increase, ...)
    pub share: f64,
    /// one sentence for people
    pub text: String,
}

impl Finding {
    /// Strength from which a finding is critical (on the first screen
    /// whatever their number).
    pub const CRITICAL: f64 = 2.0;

    /// A finding with its sentence and strength; the fields machines read
    /// are added with the builders below.
    pub fn new(kind: FindingKind, message: String, strength: f64) -> Finding {
        Finding {
            kind,
            message,
            strength,
            cohort: None,
            metric: None,
            observed: None,
            expected: None,
            p: None,
            cause: None,
            trace_ids: Vec::new(),
        }
    }

    /// The cohort it is about: the `--by` key names and their values.
    pub fn cohort(mut self, keys: &[String], values: &[String]) -> Finding {
        self.cohort = Some(keys.iter().cloned().zip(values.iter().cloned()).collect());
        self
    }

    pub fn metric(mut self, metric: impl Into<String>) -> Finding {
        self.metric = Some(metric.into());
        self
    }

    /// The value measured and what it was held against.
    pub fn values(mut self, observed: Option<f64>, expected: Option<f64>) -> Finding {
        self.observed = observed;
        self.expected = expected;
        self
    }

    pub fn p(mut self, p: Option<f64>) -> Finding {
        self.p = p;
        self
    }

    pub fn trace_ids(mut self, ids: Vec<String>) -> Finding {
        self.trace_ids = ids;
        self
    }

    /// critical (strength 2 and above), warning (at its threshold) or info
    /// (below it: inconclusive comparisons)
    pub fn severity(&self) -> &'static str {
        if self.strength >= Self::CRITICAL {
            "critical"
        } else if self.strength >= 1.0 {
            "warning"
        } else {
            "info"
        }
    }

    /// Its cause, also told at the end of the message.
    pub fn set_cause(&mut self, cause: Option<Cause>) {
        if let Some(c) = &cause {
            self.message = format!("{}; {}", self.message, c.text);
        }
        self.cause = cause;
    }
}

/// Every key is always there (null when it does not apply), so a consumer
/// reads one shape whatever the kind.
impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
        let mut st = s.serialize_struct("Finding", 10)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("severity", self.severity())?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("cohort", &self.cohort)?;
        st.serialize_field("metric", &self.metric)?;
        st.serialize_field("observed", &finite(self.observed))?;
        st.serialize_field("expected", &finite(self.expected))?;
        st.serialize_field("p", &finite(self.p))?;
        st.serialize_field("cause", &self.cause)?;
        st.serialize_field("trace_ids", &self.trace_ids)?;
        st.end()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub command: String,
    /// (label, value) facts shown above the tables: window, engine, method, prices.
    pub meta: Vec<(String, String)>,
    pub tables: Vec<Table>,
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    /// The one-line verdict printed first (compare, drift).
    pub headline: Option<String>,
    /// Charts the nightly report draws for this section (drift: the
    /// drifted distributions); the single-command formats leave them out.
    #[serde(skip)]
    pub charts: Vec<Chart>,
}

/// How a chart draws its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    /// one line per series over the x positions (days)
    Lines,
    /// grouped bars per x position (bins)
    Bars,
    /// grouped horizontal bars, one row per x position, its label at the
    /// left whatever its length (versions)
    HBars,
}

/// The data of one chart; `report::chart` draws it as SVG.
#[derive(Clone, Debug)]
pub struct Chart {
    /// file stem, never from span data: `spend-daily` -> `spend-daily.svg`
    pub file: String,
    pub title: String,
    /// the value axis' title, with its unit
    pub y_label: String,
    /// how the value axis' ticks read: Usd (`$0.12`), Share (values in
    /// percent: `85%`), Ms or Number (`1.2k`)
    pub y_unit: Unit,
    /// the category axis' title (`day (UTC)`, `bin of duration_ms, ms`)
    pub x_label: String,
    pub kind: ChartKind,
    /// the x positions' labels
    pub x: Vec<String>,
    pub series: Vec<Series>,
    /// the value axis starts near the smallest value instead of at zero
    /// (pass rates: the differences show)
    pub zoom: bool,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    /// one value per x position; `None` draws nothing there
    pub values: Vec<Option<f64>>,
    /// an interval per x position, drawn as an error bar (empty: none)
    pub errors: Vec<Option<(f64, f64)>>,
}

/// A chart written next to the report: where its section links it.
#[derive(Clone, Debug, Serialize)]
pub struct ChartLink {
    pub section: String,
    pub title: String,
    /// relative to the report file's directory, `/`-separated
    pub path: String,
}

impl Report {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The nightly report (`spanlens report`): a first screen a person reads
/// in half a minute, then every section in full.
#[derive(Clone, Debug)]
pub struct Nightly {
    pub headline: String,
    pub meta: Vec<(String, String)>,
    pub summary: Vec<SummaryBlock>,
    pub sections: Vec<Section>,
    pub charts: Vec<ChartLink>,
    /// Findings about the data itself (a stale export), before any section's.
    pub preamble_findings: Vec<Finding>,
}

/// One block of the first screen: a title and its items (span data in the
/// items is escaped by the renderer).
#[derive(Clone, Debug, Serialize)]
pub struct SummaryBlock {
    pub title: String,
    pub items: Vec<String>,
    /// items left out of the first screen
    pub more: usize,
}

#[derive(Clone, Debug)]
pub struct Section {
    /// file-name safe: slo, cost, drift, compare, anomalies
    pub name: String,
    pub title: String,
    pub report: Report,
}

impl Nightly {
    pub fn findings(&self) -> Vec<Finding> {
        let sections = self.sections.iter().flat_map(|s| s.report.findings.iter());
        self.preamble_findings
            .iter()
            .chain(sections)
            .cloned()
            .collect()
    }
}
