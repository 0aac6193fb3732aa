//! POSIX shared memory objects (`shm_open(3)`), which live as files in
//! `/dev/shm`. Scenario operations come with their issue; the supervisor
//! already finds and removes the ones a run leaves behind (in a shared
//! `/dev/shm`, only names with the run's prefix).

use super::Folder;

pub const POSIX_SHM: Folder = Folder { name: "posix_shm", dir: "/dev/shm" };
