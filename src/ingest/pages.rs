//! The page headers of a Parquet file, checked before polars decodes it.
//!
//! polars-parquet 0.55.2 trusts a page header's value count: it is an
//! `i32` read as `usize`, so a corrupt negative count becomes a bitmap
//! reservation of 2^61 bytes, and the failed allocation aborts the process
//! (found by the parquet_file fuzz target; an abort cannot be caught the
//! way a panic is, [`crate::guard`]). Its footer decoder likewise reserves
//! whatever a corrupt list length says. So the footer and the page headers
//! are decoded first with the generated Thrift types of the Parquet format
//! (`polars-parquet-format`, which polars reads page headers with; they
//! bound every allocation by the bytes decoded), and a footer that does not
//! decode, or a count or size that no writer produces, is an input error
//! naming the file. Only the footer and the page headers are read: a seek and a few
//! bytes per page, against decoding every page.
//!
//! What is checked, per column chunk of the footer: the chunk lies inside
//! the file; its pages follow each other to its end; every count and size
//! in a page header is non-negative (a v2 page's level bytes fit in the
//! page); and the data pages' value counts add up to the chunk's.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
use polars_parquet_format::{FileMetaData, PageHeader};

use crate::error::{Error, Result};

/// Check the page headers of the Parquet file at `path` (see the module).
pub fn check(path: &Path) -> Result<()> {
    let corrupt = |what: String| {
        Error::input(
            path,
            format!("a corrupt Parquet file ({what})"),
            "re-create it, e.g. with `spanlens ingest`",
        )
    };
    let io = |e: std::io::Error| Error::input_io(path, &e);
    // a small buffer: each page header is a few dozen bytes, read after a seek
    let mut f = BufReader::with_capacity(512, File::open(path).map_err(io)?);
    let len = f.seek(SeekFrom::End(0)).map_err(io)?;
    let Some((meta, meta_len)) = footer(&mut f, len).map_err(io)? else {
        return Ok(());
    };
    let meta = meta.map_err(|e| corrupt(format!("its footer does not decode: {e}")))?;
    let data_end = len - 8 - meta_len;
    for (g, rg) in meta.row_groups.iter().enumerate() {
        for chunk in &rg.columns {
            let Some(m) = &chunk.meta_data else {
                continue;
            };
            let name = m.path_in_schema.join(".");
            let at = |s: &str| format!("row group {g}, column {name}: {s}");
            let start = match m.dictionary_page_offset {
                Some(d) if d > 0 && d < m.data_page_offset => d,
                _ => m.data_page_offset,
            };
            let end = start.checked_add(m.total_compressed_size);
            let (Ok(start), Some(Ok(end))) = (u64::try_from(start), end.map(u64::try_from)) else {
                return Err(corrupt(at(
                    "the column chunk has a negative offset or size",
                )));
            };
            if end > data_end || start > end {
                return Err(corrupt(at("the column chunk lies outside the file")));
            }
            let mut pos = start;
            let mut values: i64 = 0;
            while pos < end {
                f.seek(SeekFrom::Start(pos)).map_err(io)?;
                let mut counted = Counted {
                    inner: (&mut f).take(end - pos),
                    n: 0,
                };
                let header = {
                    // what a header may decode to is bounded by the bytes
                    // left in the chunk (a corrupt length cannot allocate more)
                    let left = usize::try_from(end - pos).unwrap_or(usize::MAX);
                    let mut prot = TCompactInputProtocol::new(&mut counted, left);
                    PageHeader::read_from_in_protocol(&mut prot)
                };
                let header = header.map_err(|e| {
                    corrupt(at(&format!(
                        "the page header at byte {pos} does not decode: {e}"
                    )))
                })?;
                let n = page_values(&header)
                    .map_err(|s| corrupt(at(&format!("page at byte {pos}: {s}"))))?;
                values += n;
                pos += counted.n + header.compressed_page_size as u64;
            }
            if pos != end {
                return Err(corrupt(at("its last page runs past the column chunk")));
            }
            if values != m.num_values {
                return Err(corrupt(at(&format!(
                    "its data pages hold {values} values, the footer says {}",
                    m.num_values
                ))));
            }
        }
    }
    Ok(())
}

/// The footer (decoded with the generated Thrift types of the Parquet
/// format, which bound what a list may allocate by the bytes it may decode
/// to) and its length; None when the file does not end like Parquet (polars
/// reports that). polars' own footer decoder reserves whatever a corrupt
/// list length says and aborts (a fuzzed footer asked for 194 GB), so a
/// footer is decoded here first, and one that does not decode is an error.
fn footer(
    f: &mut BufReader<File>,
    len: u64,
) -> std::io::Result<Option<(std::result::Result<FileMetaData, String>, u64)>> {
    if len < 12 {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(len - 8))?;
    let mut tail = [0u8; 8];
    f.read_exact(&mut tail)?;
    if &tail[4..] != b"PAR1" {
        return Ok(None);
    }
    let meta_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    // polars decodes any footer that fits before the last 8 bytes, even one
    // overlapping the leading magic (a fuzzed file's did, and aborted), so
    // every such footer is decoded here
    if meta_len > len - 8 {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(len - 8 - meta_len))?;
    let mut buf = vec![0u8; meta_len as usize];
    f.read_exact(&mut buf)?;
    // decoded structs are larger than their encoding; a bound well above
    // any real footer's, far below what fails to allocate
    let bound = (buf.len().saturating_mul(64)).clamp(16 << 20, 1 << 30);
    let mut prot = TCompactInputProtocol::new(buf.as_slice(), bound);
    let meta = FileMetaData::read_from_in_protocol(&mut prot).map_err(|e| e.to_string());
    Ok(Some((meta, meta_len)))
}

/// The values a page adds to its chunk's count (0 for a dictionary or index
/// page), or what is wrong with its header.
fn page_values(h: &PageHeader) -> std::result::Result<i64, String> {
    let neg = |name: &str, v: i32| {
        if v < 0 {
            Err(format!("{name} is {v}"))
        } else {
            Ok(())
        }
    };
    neg("compressed_page_size", h.compressed_page_size)?;
    neg("uncompressed_page_size", h.uncompressed_page_size)?;
    if let Some(d) = &h.dictionary_page_header {
        neg("the dictionary's num_values", d.num_values)?;
    }
    if let Some(d) = &h.data_page_header {
        neg("num_values", d.num_values)?;
        return Ok(i64::from(d.num_values));
    }
    if let Some(d) = &h.data_page_header_v2 {
        neg("num_values", d.num_values)?;
        neg("num_nulls", d.num_nulls)?;
        neg("num_rows", d.num_rows)?;
        neg(
            "definition_levels_byte_length",
            d.definition_levels_byte_length,
        )?;
        neg(
            "repetition_levels_byte_length",
            d.repetition_levels_byte_length,
        )?;
        let levels =
            i64::from(d.definition_levels_byte_length) + i64::from(d.repetition_levels_byte_length);
        if levels > i64::from(h.compressed_page_size) {
            return Err(format!(
                "its levels take {levels} bytes of a {}-byte page",
                h.compressed_page_size
            ));
        }
        return Ok(i64::from(d.num_values));
    }
    Ok(0)
}

/// A reader counting the bytes read through it (the length of a header).
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;
    use polars_parquet_format::{DataPageHeader, DataPageHeaderV2, Encoding, PageType};

    /// Files polars writes pass, with nulls, dictionaries, nested lists and
    /// many small pages per column chunk (the value counts of a nested
    /// column's pages add up to the chunk's too).
    #[test]
    fn files_polars_writes_pass() {
        let n = 5000;
        let ids: Vec<Option<String>> = (0..n)
            .map(|i| (i % 7 != 0).then(|| format!("{:032x}", i * 7919)))
            .collect();
        let lists: Vec<Series> = (0..n)
            .map(|i| Series::new("".into(), (0..(i % 4)).map(|k| k * i).collect::<Vec<i64>>()))
            .collect();
        let mut df = df!(
            "id" => ids,
            "model" => (0..n).map(|i| ["a", "b", "c"][i as usize % 3]).collect::<Vec<_>>(),
            "x" => (0..n).map(|i| (i % 5 != 0).then_some(i as f64 * 0.5)).collect::<Vec<_>>(),
            "l" => lists,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ok.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_data_page_size(Some(1024))
            .with_row_group_size(Some(2000))
            .finish(&mut df)
            .unwrap();
        check(&path).unwrap();
    }

    #[test]
    fn the_fuzzed_negative_count_is_named() {
        let crash = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/parquet_file/crash-522348bd1c8a723dfe405abeda042895497f7cc0");
        let e = check(&crash).unwrap_err().to_string();
        assert!(
            e.contains("row group 0, column start_ns: page at byte 1461: num_values is -20"),
            "{e}"
        );
    }

    #[test]
    fn page_headers_no_writer_produces_are_rejected() {
        let enc = Encoding::PLAIN;
        let v1 = |n: i32, size: i32| {
            PageHeader::new(
                PageType::DATA_PAGE,
                size,
                size,
                None,
                DataPageHeader::new(n, enc, enc, enc, None),
                None,
                None,
                None,
            )
        };
        let v2 = |n: i32, nulls: i32, def: i32, rep: i32, size: i32| {
            PageHeader::new(
                PageType::DATA_PAGE_V2,
                size,
                size,
                None,
                None,
                None,
                None,
                DataPageHeaderV2::new(n, nulls, n, enc, def, rep, None, None),
            )
        };
        assert_eq!(page_values(&v1(10, 100)), Ok(10));
        assert_eq!(page_values(&v1(-20, 100)), Err("num_values is -20".into()));
        assert_eq!(
            page_values(&v1(10, -1)),
            Err("compressed_page_size is -1".into())
        );
        assert_eq!(page_values(&v2(10, 2, 3, 4, 100)), Ok(10));
        assert_eq!(
            page_values(&v2(10, -2, 3, 4, 100)),
            Err("num_nulls is -2".into())
        );
        assert_eq!(
            page_values(&v2(10, 2, 60, 50, 100)),
            Err("its levels take 110 bytes of a 100-byte page".into())
        );
    }
}
