//! The printable label: a 4×6 inch page per package, as PDF (Code 128 bars drawn as filled
//! rectangles) or as ZPL for thermal printers (one `^XA … ^XZ` label per package).

use barcoders::sym::code128::Code128;
use printpdf::{BuiltinFont, IndirectFontRef, Mm, PdfDocument, PdfLayerReference, path::PaintMode};

use crate::model::{Address, Label};

/// Page width: 4 inches.
const PAGE_WIDTH_MM: f32 = 101.6;
/// Page height: 6 inches.
const PAGE_HEIGHT_MM: f32 = 152.4;
/// Width of the narrowest bar: 3 dots of a 203 dpi label printer.
pub const MODULE_MM: f32 = 0.375;
/// Height of the bars.
const BAR_HEIGHT_MM: f32 = 25.0;
/// Where the bars start from the bottom of the page.
const BARS_BOTTOM_MM: f32 = 32.0;

/// What a label page shows.
pub(crate) struct Sheet<'a> {
    pub(crate) label: &'a Label,
    pub(crate) from: &'a Address,
    pub(crate) to: &'a Address,
}

/// Why a label could not be rendered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DocumentError {
    #[error("the tracking number cannot be encoded as Code 128: {0}")]
    Barcode(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(#[from] printpdf::Error),
}

/// The Code 128 modules of a tracking number (1 a bar, 0 a space; start, check and stop
/// symbols included, no quiet zone): `SC` in code set B, the 18 digits in code set C.
pub(crate) fn code128_modules(tracking_number: &str) -> Result<Vec<u8>, DocumentError> {
    let (letters, digits) = tracking_number
        .split_at_checked(2)
        .unwrap_or((tracking_number, ""));
    // barcoders spells the code sets as characters: Ɓ starts set B, Ć switches to set C.
    let data = if digits.len() % 2 == 0
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        format!("\u{0181}{letters}\u{0106}{digits}")
    } else {
        format!("\u{0181}{tracking_number}")
    };
    let code = Code128::new(data).map_err(|e| DocumentError::Barcode(e.to_string()))?;
    Ok(code.encode())
}

/// Characters a page can show: printable, no control characters.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An address as lines: name, street, more street, `postal code city subdivision`, country.
fn address_lines(address: &Address) -> Vec<String> {
    let mut lines = vec![address.name.clone(), address.line1.clone()];
    if let Some(line2) = address.line2.as_deref().filter(|l| !l.trim().is_empty()) {
        lines.push(line2.to_owned());
    }
    let locality: Vec<&str> = [
        address.postal_code.as_deref(),
        Some(address.city.as_str()),
        address.subdivision.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|p| !p.is_empty())
    .collect();
    lines.push(locality.join(" "));
    lines.push(address.country.clone());
    lines.into_iter().map(|l| printable(l.trim())).collect()
}

/// The label as a PDF: one page per package.
pub(crate) fn pdf(sheet: &Sheet<'_>) -> Result<Vec<u8>, DocumentError> {
    let label = sheet.label;
    let modules = code128_modules(&label.tracking_number)?;
    let (doc, first_page, first_layer) = PdfDocument::new(
        format!("Label {}", label.tracking_number),
        Mm(PAGE_WIDTH_MM),
        Mm(PAGE_HEIGHT_MM),
        "label",
    );
    let regular = doc.add_builtin_font(BuiltinFont::Helvetica)?;
    let bold = doc.add_builtin_font(BuiltinFont::HelveticaBold)?;
    let pages = label.packages.max(1);
    for number in 1..=pages {
        let (page, layer) = if number == 1 {
            (first_page, first_layer)
        } else {
            doc.add_page(Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM), "label")
        };
        let layer = doc.get_page(page).get_layer(layer);
        let fonts = Fonts {
            regular: &regular,
            bold: &bold,
        };
        draw_page(&layer, &fonts, sheet, number, pages);
        draw_bars(&layer, &modules);
    }
    Ok(doc.save_to_bytes()?)
}

struct Fonts<'a> {
    regular: &'a IndirectFontRef,
    bold: &'a IndirectFontRef,
}

fn draw_page(
    layer: &PdfLayerReference,
    fonts: &Fonts<'_>,
    sheet: &Sheet<'_>,
    number: i32,
    of: i32,
) {
    let label = sheet.label;
    let left = 6.0;
    layer.use_text("SANDBOX CARRIER", 14.0, Mm(left), Mm(143.0), fonts.bold);
    layer.use_text(
        label.service.to_uppercase(),
        14.0,
        Mm(68.0),
        Mm(143.0),
        fonts.bold,
    );
    layer.use_text(
        format!("Package {number} of {of}"),
        9.0,
        Mm(left),
        Mm(136.0),
        fonts.regular,
    );
    layer.use_text("FROM", 7.0, Mm(left), Mm(128.0), fonts.bold);
    let mut y = 124.0;
    for line in address_lines(sheet.from) {
        layer.use_text(line, 9.0, Mm(left), Mm(y), fonts.regular);
        y -= 4.0;
    }
    layer.use_text("SHIP TO", 8.0, Mm(left), Mm(99.0), fonts.bold);
    let mut y = 93.0;
    for line in address_lines(sheet.to) {
        layer.use_text(line, 12.0, Mm(left), Mm(y), fonts.regular);
        y -= 5.5;
    }
    layer.use_text(
        label.tracking_number.clone(),
        12.0,
        Mm(left),
        Mm(24.0),
        fonts.bold,
    );
    if let Some(reference) = &label.reference {
        layer.use_text(
            format!("Ref: {}", printable(reference)),
            8.0,
            Mm(left),
            Mm(14.0),
            fonts.regular,
        );
    }
    layer.use_text(label.id.clone(), 6.0, Mm(left), Mm(8.0), fonts.regular);
}

/// The bars as filled rectangles, centred, one per run of bar modules.
fn draw_bars(layer: &PdfLayerReference, modules: &[u8]) {
    let width = modules.len() as f32 * MODULE_MM;
    let start = (PAGE_WIDTH_MM - width) / 2.0;
    let mut run_start: Option<usize> = None;
    // A trailing space closes the last run.
    for (i, module) in modules.iter().chain(std::iter::once(&0)).enumerate() {
        match (module, run_start) {
            (1, None) => run_start = Some(i),
            (0, Some(from)) => {
                let x0 = start + from as f32 * MODULE_MM;
                let x1 = start + i as f32 * MODULE_MM;
                let bar = printpdf::Rect::new(
                    Mm(x0),
                    Mm(BARS_BOTTOM_MM),
                    Mm(x1),
                    Mm(BARS_BOTTOM_MM + BAR_HEIGHT_MM),
                )
                .with_mode(PaintMode::Fill);
                layer.add_rect(bar);
                run_start = None;
            }
            _ => {}
        }
    }
}

/// ZPL field data: no `^` or `~` (they start commands) and no control characters.
fn zpl_text(text: &str) -> String {
    printable(text)
        .chars()
        .map(|c| if c == '^' || c == '~' { ' ' } else { c })
        .collect()
}

/// The label as ZPL II for a 203 dpi, 4×6 inch printer: one label per package.
pub(crate) fn zpl(sheet: &Sheet<'_>) -> String {
    let label = sheet.label;
    let pages = label.packages.max(1);
    let mut out = String::new();
    let field = |out: &mut String, x: i32, y: i32, size: i32, text: &str| {
        out.push_str(&format!(
            "^FO{x},{y}^A0N,{size},{size}^FD{}^FS\n",
            zpl_text(text)
        ));
    };
    for number in 1..=pages {
        out.push_str("^XA\n^CI28\n^PW812\n^LL1218\n");
        field(&mut out, 40, 40, 40, "SANDBOX CARRIER");
        field(&mut out, 560, 40, 40, &label.service.to_uppercase());
        field(
            &mut out,
            40,
            95,
            25,
            &format!("Package {number} of {pages}"),
        );
        field(&mut out, 40, 140, 22, "FROM");
        let mut y = 170;
        for line in address_lines(sheet.from) {
            field(&mut out, 40, y, 25, &line);
            y += 30;
        }
        field(&mut out, 40, 400, 28, "SHIP TO");
        let mut y = 440;
        for line in address_lines(sheet.to) {
            field(&mut out, 40, y, 35, &line);
            y += 42;
        }
        out.push_str(&format!(
            "^FO60,780^BY3^BCN,200,Y,N,N^FD{}^FS\n",
            zpl_text(&label.tracking_number)
        ));
        if let Some(reference) = &label.reference {
            field(&mut out, 40, 1080, 25, &format!("Ref: {reference}"));
        }
        field(&mut out, 40, 1150, 20, &label.id);
        out.push_str("^XZ\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_numbers_encode_in_sets_b_then_c() {
        let modules = code128_modules("SC123456789012345678").expect("encodes");
        // Start B, S, C, code C, nine digit pairs, check symbol (11 modules each), stop (13).
        assert_eq!(modules.len(), 11 * 14 + 13);
        assert_eq!(
            &modules[..11],
            &[1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0],
            "start B"
        );
        assert_eq!(
            &modules[modules.len() - 13..],
            &[1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1]
        );
    }

    #[test]
    fn zpl_fields_cannot_inject_commands() {
        assert_eq!(zpl_text("a^XZ~JR\nb"), "a XZ JR b");
    }
}
