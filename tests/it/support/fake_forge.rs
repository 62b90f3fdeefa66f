//! A loopback fake forge for tests: a wiremock server and the runtime its
//! async setup and verification run on, so the code under test (which builds
//! its own runtime) is never called from inside one.

use wiremock::{Mock, MockServer};

/// A loopback fake forge: a wiremock server plus the runtime its async
/// setup and verification run on.
pub struct Fake {
    pub rt: tokio::runtime::Runtime,
    pub server: MockServer,
}

impl Fake {
    pub fn start() -> Fake {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        Fake { rt, server }
    }

    pub fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    /// Fails the test if any mock got a different number of requests than expected.
    pub fn verify(self) {
        self.rt.block_on(self.server.verify());
    }
}
