//! `spanlens inspect IN...`

use super::{to_stdout, Context};
use crate::cli::{InspectArgs, InspectFormat};
use crate::error::{Error, Result};
use crate::frame::{self, summary};
use crate::report;

pub fn run(args: InspectArgs, ctx: &Context) -> Result<i32> {
    let opts = ctx.load_options(&args.input)?;
    let ds = frame::load(&args.input.inputs, &opts)?;
    let sum = summary::summarize(&ds, &opts.table, args.top)
        .map_err(|e| Error::input("<inputs>", e.to_string(), ""))?;
    match args.format {
        InspectFormat::Table => to_stdout(|w| report::summary::inspect_table(&sum, w))?,
        InspectFormat::Json => to_stdout(|w| report::summary::inspect_json(&sum, w))?,
    }
    Ok(crate::exit::OK)
}
