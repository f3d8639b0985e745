//! `check` as a stream: every source is read, parsed, judged and reported a chunk at a time,
//! in input order, so memory stays bounded by the chunk, not by the repository. The one thing
//! needed from the whole input first is the labels of its `Namespace` objects, which a quick
//! scan collects before the first resource is judged.

use super::input::{self, Content, InputError, Inputs, ReadOptions, SourceState};
use super::progress::Progress;
use super::render::Sink;
use super::{CheckOptions, CheckReport, NAMESPACE_NAME_LABEL};
use crate::matching::labels_of;
use crate::policy::PolicySet;
use std::io::{self, Write};
use std::path::PathBuf;

/// Bytes of input read, parsed, judged and reported at a time: about 500 Deployments, enough to
/// keep every core busy, few enough that their trees and results stay small (a parsed document
/// with its source map takes some 30 times its text). See BENCHMARKS.md.
pub const CHUNK_BYTES: usize = 256 << 10;

/// What a streamed run checks with.
pub struct Run<'a> {
    pub set: &'a PolicySet,
    pub read: &'a ReadOptions,
    pub check: &'a CheckOptions,
    pub progress: &'a Progress,
}

/// Checks every path (`-` is the stdin `Content`), reporting each chunk to `sink` and handing
/// its inputs to `diagnostics` (for errors, warnings and notes on stderr).
pub fn stream<W: Write>(
    paths: &[PathBuf],
    stdin: impl FnOnce() -> io::Result<Content>,
    run: &Run<'_>,
    sink: &mut Sink<'_, W>,
    diagnostics: &mut dyn FnMut(&Inputs),
) -> io::Result<()> {
    let Run {
        set,
        read,
        check,
        progress,
    } = *run;
    let mut prelude = Inputs::default();
    let sources = input::sources(paths, stdin, read, &mut prelude);
    diagnostics(&prelude);
    sink.chunk(&CheckReport::default(), &prelude)?;

    let mut options = check.clone();
    let mut pieces = 0;
    for source in &sources {
        // A source that cannot be read is reported by the pass below.
        pieces += source
            .scan(&mut |name, object| {
                let mut labels = labels_of(object.pointer("/metadata/labels"));
                labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
                options.namespace_labels.insert(name.to_owned(), labels);
            })
            .unwrap_or(0);
    }
    progress.start("checking documents", pieces);

    let mut manifests = 0;
    for source in &sources {
        let mut state = SourceState::default();
        let mut chunk = |pieces: io::Result<Vec<(usize, String)>>,
                         state: &mut SourceState|
         -> io::Result<()> {
            let mut inputs = Inputs::default();
            match pieces {
                Ok(pieces) => input::read_chunk(&mut inputs, source, state, pieces, read, progress),
                Err(error) => inputs.errors.push(source.unreadable(&error)),
            }
            let report = super::run_with(set, &inputs, &options, &Progress::hidden());
            manifests += inputs.manifests.len();
            diagnostics(&inputs);
            sink.chunk(&report, &inputs)
        };
        match source.chunks(Some(CHUNK_BYTES)) {
            Ok(chunks) => {
                for pieces in chunks {
                    chunk(pieces, &mut state)?;
                }
            }
            Err(error) => chunk(Err(error), &mut state)?,
        }
        let mut tail = Inputs::default();
        input::finish_source(&mut tail, source, &state, read);
        diagnostics(&tail);
        sink.chunk(&CheckReport::default(), &tail)?;
    }
    let has_errors = !sink.totals().errors.is_empty();
    if let Some(error) =
        input::nothing_read(paths, manifests, sink.totals().files, has_errors, read)
    {
        let last = Inputs {
            errors: vec![error],
            ..Inputs::default()
        };
        diagnostics(&last);
        sink.chunk(&CheckReport::default(), &last)?;
    }
    Ok(())
}

impl InputError {
    /// An error about the whole run rather than one file.
    pub fn of_run(paths: &[PathBuf], message: String) -> Self {
        Self::new(
            paths
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            None,
            message,
        )
    }
}
