//! POSIX message queues (`mq_open(3)`), visible as files where the mqueue
//! file system is mounted at `/dev/mqueue`. Scenario operations come with
//! their issue; the supervisor already finds and removes the ones a run
//! leaves behind (in a shared `/dev/mqueue`, only names with the run's
//! prefix).

use super::Folder;

pub const POSIX_MQ: Folder = Folder { name: "posix_mq", dir: "/dev/mqueue", holds: |_| true };
