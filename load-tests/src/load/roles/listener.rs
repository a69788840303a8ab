//! The listener: an idle connection that only reads until the run stops.
//!
//! Why a loop of its own: most connections of a run are listeners. This loop
//! waits on two things only, its socket and the stop signal registered once.
//! The general loop creates a timer and a watch registration per frame; with
//! 20,000 listeners on one core, that would make the generator, not the
//! server, set the pace of a fan-out measurement.

use futures_util::StreamExt;
use tokio::sync::watch;

use crate::context::{Phase, RunContext};
use crate::dial::Ws;
use crate::session::{ConnectionReport, Session};

pub(super) async fn listen(
    ctx: &RunContext,
    mut ws: Ws,
    mut session: Session,
    mut phase: watch::Receiver<Phase>,
) -> ConnectionReport {
    let stop = async {
        while phase.changed().await.is_ok() {
            if *phase.borrow() == Phase::Stop {
                break;
            }
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            message = ws.next() => if !session.take(ctx, message, &mut ws).await { break },
        }
    }
    session.report
}
