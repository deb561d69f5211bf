//! Pure replication logic: what to send, what to prune, whether the target changed, and the
//! argv that carries it out. Nothing here runs a command.

pub mod commands;
pub mod hierarchy;
pub mod modified;
pub mod plan;
pub mod protect;
pub mod prune;
pub mod resume;
pub mod verify;

#[cfg(test)]
mod proptests;

pub use commands::{step_commands, CommandError, StreamCommands, StreamSettings};
pub use hierarchy::{plan_relink, Relink, TreeNode};
pub use modified::{target_change, ModifiedInput, TargetChange};
pub use plan::{
    find_common_base, plan_replication, step_size, txg_of, BaseRef, CommonBase, PlanError,
    ReplicationPlan, SnapRef, Step, TargetState,
};
pub use prune::{prune_commands, prune_set};
pub use resume::{check_resume_token, TokenRefusal};
pub use verify::{verify_replica, VerifyReport};
