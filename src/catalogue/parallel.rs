//! Mapping the files of a large catalogue on every core, keeping their order.
//!
//! Loading is per file: four system calls to read it (open, read, the read that finds its
//! end, close) and its checks (name, UTF-8, directives, checksum). At 5,000
//! migrations, 10,000 files, that is most of a no-op gate's time (issue 12), while the
//! other cores are idle, since nothing has been sent to the server yet.

use std::sync::{Mutex, PoisonError};

/// Items a thread gets at least, so a small catalogue is loaded without starting one.
pub(super) const MIN_PER_THREAD: usize = 256;

/// `f` applied to every item, results in the items' order, on up to one thread per core.
/// `S` is each thread's scratch state (a read buffer), made with `S::default()`.
///
/// A thread that cannot be started (a process or memory limit) leaves its share to the
/// calling thread, so the result never depends on how many threads there were.
pub(super) fn map<T, S, R>(items: Vec<T>, f: impl Fn(&mut S, T) -> R + Sync) -> Vec<R>
where
    T: Send,
    S: Default,
    R: Send,
{
    let threads = match items.len() / MIN_PER_THREAD {
        0 | 1 => 1,
        wanted => std::thread::available_parallelism().map_or(1, |n| n.get().min(wanted)),
    };
    if threads == 1 {
        let mut state = S::default();
        return items.into_iter().map(|item| f(&mut state, item)).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut items = items.into_iter();
    let chunks: Vec<Mutex<Option<Vec<T>>>> = (0..threads)
        .map(|_| Mutex::new(Some(items.by_ref().take(per_thread).collect())))
        .collect();
    // Takes chunk `k` (once: whoever comes first) and maps it.
    let run = |k: usize| -> Vec<R> {
        let chunk = chunks[k]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut state = S::default();
        chunk
            .into_iter()
            .flatten()
            .map(|item| f(&mut state, item))
            .collect()
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .map(|k| {
                std::thread::Builder::new()
                    .name("catalogue".to_owned())
                    .spawn_scoped(scope, move || run(k))
                    .ok()
            })
            .collect();
        let mut all = run(0);
        for (k, helper) in (1..).zip(helpers) {
            let part = match helper {
                Some(helper) => helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                None => run(k),
            };
            all.extend(part);
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_thread_count() {
        for count in [
            0,
            1,
            MIN_PER_THREAD,
            2 * MIN_PER_THREAD,
            5 * MIN_PER_THREAD + 3,
        ] {
            let items: Vec<usize> = (0..count).collect();
            let mapped = map(items, |calls: &mut usize, item| {
                *calls += 1;
                (item * 2, *calls)
            });
            let doubled: Vec<usize> = mapped.iter().map(|(d, _)| *d).collect();
            assert_eq!(doubled, (0..count).map(|i| i * 2).collect::<Vec<_>>());
            // Each thread's state starts afresh and counts only its own calls: the counts,
            // in the items' order, are runs 1, 2, 3, … one per thread, of equal length but
            // the last, and a catalogue too small to share is mapped by one thread.
            let runs: Vec<Vec<usize>> = mapped.iter().map(|(_, calls)| *calls).fold(
                Vec::new(),
                |mut runs: Vec<Vec<usize>>, calls| {
                    match runs.last_mut() {
                        Some(run) if calls != 1 => run.push(calls),
                        _ => runs.push(vec![calls]),
                    }
                    runs
                },
            );
            for run in &runs {
                assert!(run.iter().copied().eq(1..=run.len()), "{run:?}");
            }
            if let Some((last, full)) = runs.split_last() {
                assert!(full.iter().all(|run| run.len() >= last.len()));
                assert!(full.windows(2).all(|w| w[0].len() == w[1].len()));
            }
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let expected = match count / MIN_PER_THREAD {
                0 | 1 => count.min(1),
                wanted => cores.min(wanted),
            };
            assert_eq!(runs.len(), expected, "{count} items");
        }
    }
}
