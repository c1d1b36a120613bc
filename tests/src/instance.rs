//! A second server instance on a test app's database, as a second process behind a load
//! balancer would be: the app's configuration with its own pool, listener and background
//! jobs, and the app's clock. For tests that two instances work each item of a job once.

use std::sync::Arc;

use cassa::{
    config::Config,
    startup::{Application, BuildOptions},
    state::AppState,
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::TestApp;

/// A running second instance.
pub struct Instance {
    /// Its state (to run its jobs' passes directly).
    pub state: AppState,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Instance {
    /// An instance beside `app`, configured like it.
    pub async fn beside(app: &TestApp) -> Self {
        let mut config: Config = (*app.state.config).clone();
        config.listen_addr = "127.0.0.1:0".parse().expect("an address");
        let instance = Application::build_with(
            config,
            BuildOptions {
                clock: Some(Arc::new(app.clock.clone())),
                extra_api: None,
                payment_providers: None,
                carriers: None,
            },
        )
        .await
        .expect("a second instance");
        let state = instance.state().clone();
        let address = format!("http://{}", instance.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(instance.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Instance {
            state,
            address,
            stop,
            task,
        }
    }

    /// Stops it and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("the instance's task")
            .expect("the instance's server");
    }
}
