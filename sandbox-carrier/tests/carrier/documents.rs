//! The printable label: the PDF read back with lopdf, its bars decoded as Code 128 here
//! (independently of the encoder), and the ZPL.

use axum::http::{Method, StatusCode};
use lopdf::{Document, Object};
use serde_json::json;

use crate::{
    both_backends,
    support::{TestDb, address, carrier, parcel},
};

/// Code 128 symbols 0 to 105 as bar/space widths (bar first), from the symbology's table.
const PATTERNS: [&str; 106] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232",
];
const STOP: &str = "2331112";

/// Decodes Code 128 from its element widths (in modules): start, data, check, stop.
fn decode_code128(widths: &[u32]) -> String {
    assert!(widths.len() >= 6 * 3 + 7, "too short: {widths:?}");
    let (symbols, stop) = widths.split_at(widths.len() - 7);
    let stop: String = stop.iter().map(|w| w.to_string()).collect();
    assert_eq!(stop, STOP);
    assert_eq!(symbols.len() % 6, 0);
    let values: Vec<usize> = symbols
        .chunks(6)
        .map(|chunk| {
            let pattern: String = chunk.iter().map(|w| w.to_string()).collect();
            PATTERNS
                .iter()
                .position(|p| *p == pattern)
                .unwrap_or_else(|| panic!("no symbol {pattern}"))
        })
        .collect();
    let (check, data) = values.split_last().expect("a check symbol");
    let sum: usize = values[0]
        + data[1..]
            .iter()
            .enumerate()
            .map(|(i, v)| (i + 1) * v)
            .sum::<usize>();
    assert_eq!(sum % 103, *check, "check symbol");
    let mut set = match data[0] {
        103 => 'A',
        104 => 'B',
        105 => 'C',
        other => panic!("not a start symbol: {other}"),
    };
    let mut text = String::new();
    for &value in &data[1..] {
        match (set, value) {
            ('C', 0..=99) => text.push_str(&format!("{value:02}")),
            ('C', 100) | ('A', 100) => set = 'B',
            ('B', 99) | ('A', 99) => set = 'C',
            ('B', 101) | ('C', 101) => set = 'A',
            ('A' | 'B', 0..=63) => text.push(char::from(b' ' + value as u8)),
            ('B', 64..=95) => text.push(char::from(b' ' + value as u8)),
            other => panic!("unexpected symbol {other:?}"),
        }
    }
    text
}

fn number(object: &Object) -> f32 {
    object.as_float().expect("a number")
}

/// A page as read back: the filled rectangles' `(x, width)`, and the text shown.
type Page = (Vec<(f32, f32)>, Vec<String>);

fn read_pdf(bytes: &[u8]) -> Vec<Page> {
    let doc = Document::load_mem(bytes).expect("a PDF");
    doc.get_pages()
        .values()
        .map(|page| {
            let content = doc.get_and_decode_page_content(*page).expect("content");
            let ops = &content.operations;
            let mut bars = Vec::new();
            let mut texts = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                match op.operator.as_str() {
                    "re" if ops.get(i + 1).is_some_and(|next| next.operator == "f") => {
                        bars.push((number(&op.operands[0]), number(&op.operands[2])));
                    }
                    "Tj" => {
                        if let Ok(bytes) = op.operands[0].as_str() {
                            texts.push(bytes.iter().map(|b| char::from(*b)).collect());
                        }
                    }
                    _ => {}
                }
            }
            (bars, texts)
        })
        .collect()
}

/// Element widths in modules from bars given as `(x, width)` in any order.
fn widths(mut bars: Vec<(f32, f32)>) -> Vec<u32> {
    bars.sort_by(|a, b| a.0.total_cmp(&b.0));
    let module = bars.iter().map(|b| b.1).fold(f32::INFINITY, f32::min);
    let modules = |length: f32| {
        let m = (length / module).round();
        assert!(
            (length / module - m).abs() < 0.1,
            "{length} is not a whole number of modules"
        );
        m as u32
    };
    let mut out = Vec::new();
    for (i, (x, w)) in bars.iter().enumerate() {
        out.push(modules(*w));
        if let Some((next, _)) = bars.get(i + 1) {
            out.push(modules(next - (x + w)));
        }
    }
    out
}

async fn the_pdf_carries_the_tracking_number_as_code_128_and_zpl_too(db: TestDb) {
    let app = carrier(db, |s| s).await;
    let body = json!({
        "from": address("Austin", "78701", "US"),
        "to": address("Denver", "80202", "US"),
        "packages": [parcel(1000, 100, 100, 100), parcel(2000, 100, 100, 100)],
        "currency": "USD",
    });
    let rates = app
        .call(Method::POST, "/v1/rates", None, Some(body))
        .await
        .json();
    let rate = rates["rates"][0]["id"].as_str().expect("rate");
    let label = app.buy(rate, "doc").await.json();
    let id = label["id"].as_str().expect("id");
    let tracking = label["tracking_number"].as_str().expect("tracking number");

    for query in ["", "?format=pdf"] {
        let answer = app
            .call(
                Method::GET,
                &format!("/v1/labels/{id}/document{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["content-type"], "application/pdf");
        assert!(answer.bytes.starts_with(b"%PDF-"));
        let pages = read_pdf(&answer.bytes);
        assert_eq!(pages.len(), 2, "a page per package");
        for (number, (bars, texts)) in pages.into_iter().enumerate() {
            assert_eq!(decode_code128(&widths(bars)), tracking);
            assert!(texts.iter().any(|t| t == tracking), "{texts:?}");
            assert!(texts.iter().any(|t| t == "Someone in Denver"), "{texts:?}");
            assert!(texts.iter().any(|t| t == "GROUND"), "{texts:?}");
            assert!(
                texts
                    .iter()
                    .any(|t| *t == format!("Package {} of 2", number + 1)),
                "{texts:?}"
            );
        }
    }

    let answer = app
        .call(
            Method::GET,
            &format!("/v1/labels/{id}/document?format=zpl"),
            None,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    let zpl = String::from_utf8(answer.bytes.to_vec()).expect("text");
    assert_eq!(zpl.matches("^XA").count(), 2);
    assert_eq!(zpl.matches("^XZ").count(), 2);
    let barcode = format!("^BCN,200,Y,N,N^FD{tracking}^FS");
    assert_eq!(zpl.matches(&barcode).count(), 2, "{zpl}");
    assert!(zpl.contains("^FDSomeone in Denver^FS"));

    let answer = app
        .call(
            Method::GET,
            &format!("/v1/labels/{id}/document?format=png"),
            None,
            None,
        )
        .await;
    assert_eq!(
        answer.error(),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_format".to_owned()
        )
    );
    let answer = app
        .call(Method::GET, "/v1/labels/lbl_nope/document", None, None)
        .await;
    assert_eq!(
        answer.error(),
        (StatusCode::NOT_FOUND, "label_not_found".to_owned())
    );
}

both_backends!(the_pdf_carries_the_tracking_number_as_code_128_and_zpl_too);
