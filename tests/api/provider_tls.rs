//! Provider calls go over TLS with rustls and the webpki roots, and a certificate those roots
//! do not vouch for is refused: a server presenting a self-signed certificate gets no request
//! from the guarded client every provider uses, while a client told to trust that certificate
//! talks to the same server (so the refusal is the check, not a broken server).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};

/// A self-signed certificate for 127.0.0.1 (and its key), made for these tests only.
const CERT: &[u8] = include_bytes!("../fixtures/tls/cert.pem");
const KEY: &[u8] = include_bytes!("../fixtures/tls/key.pem");

/// A TLS server answering every request `200 {}`; counts the requests it served.
async fn tls_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let certs = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                if tls.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    content-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, served)
}

#[tokio::test]
async fn a_certificate_the_webpki_roots_do_not_vouch_for_is_refused() {
    let (addr, served) = tls_server().await;
    let url = format!("https://{addr}/v1/account");

    // The server works for a client that trusts its certificate.
    let trusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(CERT).unwrap())
        .build()
        .unwrap();
    let answer = trusting.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // The providers' client (its address rule exempting this server, as it does the server's
    // own address) refuses the handshake: nothing is sent.
    let egress = cassa::egress::Egress::new(addr, &[]).unwrap();
    let refused = egress
        .request(reqwest::Method::GET, &url)
        .unwrap()
        .send()
        .await
        .expect_err("an unknown issuer must fail the handshake");
    let chain = format!("{refused:?}");
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("certificate"),
        "{chain}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 1, "no request reached it");
}

#[test]
fn no_openssl_is_built() {
    // Provider TLS is rustls's alone: a crate pulling in OpenSSL (native-tls) would give the
    // client another certificate store and another library to patch.
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    for banned in ["openssl", "openssl-sys", "native-tls", "hyper-tls"] {
        assert!(
            !lock.contains(&format!("name = \"{banned}\"\n")),
            "{banned} is in Cargo.lock"
        );
    }
    assert!(lock.contains("name = \"rustls\"\n") && lock.contains("name = \"webpki-roots\"\n"));
}
