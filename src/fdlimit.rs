//! Open-file limits. At start-up the soft `RLIMIT_NOFILE` is raised to the
//! hard limit, and client connections are capped below it, so that a flood
//! of clients cannot take the descriptors that the publish API, backend
//! connections and the metrics endpoint need (in 1.36 those live in other
//! processes, each with its own limit). Called once by [`crate::app`].

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the soft open-file limit to the hard one where it is lower and
/// returns the soft limit now in force (`None`: unlimited or unknown).
pub fn raise_nofile() -> Option<u64> {
    let lim = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (lim.current, lim.maximum) {
        if cur < max
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(max),
                    maximum: Some(max),
                },
            )
            .is_ok()
        {
            return Some(max);
        }
    }
    lim.current
}

/// The most client connections to serve at once under an open-file limit of
/// `limit`: a tenth of the descriptors (at least 64) stay for everything
/// else. `None` means no limit.
pub fn client_cap(limit: Option<u64>) -> usize {
    let Some(limit) = limit else {
        return usize::MAX;
    };
    let reserve = (limit / 10).max(64);
    usize::try_from(limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_is_kept_back() {
        assert_eq!(client_cap(Some(20_000)), 18_000);
        assert_eq!(client_cap(Some(1_000)), 900);
        assert_eq!(client_cap(Some(256)), 192);
        assert_eq!(client_cap(Some(10)), 1);
        assert_eq!(client_cap(None), usize::MAX);
    }

    #[test]
    fn the_soft_limit_is_at_least_what_it_was() {
        let before = getrlimit(Resource::Nofile).current;
        let now = raise_nofile();
        assert!(now >= before);
        assert_eq!(getrlimit(Resource::Nofile).current, now);
    }
}
