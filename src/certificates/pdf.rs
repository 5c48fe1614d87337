//! The certificate PDF: A4 landscape, drawn with printpdf in the shipped Noto fonts (Noto Sans
//! for Latin and accented Latin, Noto Sans CJK SC for Chinese, Japanese and Korean; each run of
//! text takes the first face that has its glyphs), subset to the glyphs used, with a QR code of
//! the verification URL and the signed credential attached as `credential.jwt`.
//!
//! The fonts are parsed once per process; each document only subsets them. Bold CJK text is
//! the regular CJK face filled and stroked with its own colour (a "faux bold"): a second CJK face
//! would cost about 37 MB of memory per process (its 17 MB file, a parsed copy, its tables) for
//! the holder's name and the title, which is most of what the stroke gives.
use std::sync::OnceLock;

use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, PdfWarnMsg, Point, Pt, Rect, Rgb, TextItem, TextRenderingMode,
};

use super::code;
use super::credential::CertificateData;

static CJK_REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSansCJKsc-Regular.otf");
static LATIN_REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
static LATIN_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");

/// The shipped faces, parsed.
pub struct Fonts {
    latin: ParsedFont,
    latin_bold: ParsedFont,
    cjk: ParsedFont,
}

/// How a run of text is drawn: which face (an index into the document's font ids) and whether it
/// is stroked to look bold.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Face {
    index: usize,
    faux_bold: bool,
}

impl Fonts {
    /// The face for a character: Noto Sans when it has it, else Noto Sans CJK (stroked when bold).
    fn face(&self, c: char, bold: bool) -> (Face, &ParsedFont) {
        let latin = if bold { &self.latin_bold } else { &self.latin };
        if latin.lookup_glyph_index(u32::from(c)).is_some() {
            let index = usize::from(bold);
            return (
                Face {
                    index,
                    faux_bold: false,
                },
                latin,
            );
        }
        (
            Face {
                index: 2,
                faux_bold: bold,
            },
            &self.cjk,
        )
    }
}

/// The stroke that makes regular CJK glyphs look bold, as a share of the font size.
const FAUX_BOLD_STROKE: f32 = 0.035;

static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();

/// The parsed fonts (parsed at first use, then shared).
pub fn fonts() -> Result<&'static Fonts, String> {
    FONTS
        .get_or_init(|| {
            let mut warnings = Vec::new();
            let mut parse = |bytes: &[u8], name: &str| {
                ParsedFont::from_bytes(bytes, 0, &mut warnings)
                    .ok_or_else(|| format!("the shipped font {name} does not parse"))
            };
            let fonts = Fonts {
                latin: parse(LATIN_REGULAR, "NotoSans-Regular")?,
                latin_bold: parse(LATIN_BOLD, "NotoSans-Bold")?,
                cjk: parse(CJK_REGULAR, "NotoSansCJKsc-Regular")?,
            };
            // The parsed faces hold their own copies: the embedded files are never read again.
            for bytes in [CJK_REGULAR, LATIN_REGULAR, LATIN_BOLD] {
                release_pages(bytes);
            }
            Ok(fonts)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The characters of `text` the shipped fonts cannot draw (so a name can be refused when saved).
pub fn missing_glyphs(text: &str) -> Result<Vec<char>, String> {
    let fonts = fonts()?;
    let mut missing: Vec<char> = text
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .filter(|c| {
            fonts.latin.lookup_glyph_index(u32::from(*c)).is_none()
                && fonts.cjk.lookup_glyph_index(u32::from(*c)).is_none()
        })
        .collect();
    missing.dedup();
    Ok(missing)
}

const PAGE_W: f32 = 297.0;
const PAGE_H: f32 = 210.0;

fn rgb(r: u8, g: u8, b: u8) -> Color {
    Color::Rgb(Rgb::new(
        f32::from(r) / 255.0,
        f32::from(g) / 255.0,
        f32::from(b) / 255.0,
        None,
    ))
}

/// Tells the kernel that the pages of an embedded file are no longer needed, so they leave the
/// process's resident memory (33 MB of fonts otherwise stay resident after one parse).
/// `MADV_PAGEOUT` (Linux 5.4) reclaims them and never changes what they hold: if they are read
/// again they come back as they were, from the file (or from swap, should the executable's pages
/// ever be anonymous). On an older kernel the call fails and nothing happens.
#[cfg(target_os = "linux")]
fn release_pages(bytes: &'static [u8]) {
    const PAGE: usize = 4096;
    let start = bytes.as_ptr() as usize;
    let first = start.div_ceil(PAGE) * PAGE;
    let end = (start + bytes.len()) / PAGE * PAGE;
    if end <= first {
        return;
    }
    // SAFETY: [first, end) lies inside `bytes`, a static in the executable's read-only data.
    // MADV_PAGEOUT only moves pages out of memory and leaves their contents as they are, so no
    // Rust reference can observe a change; it touches no memory outside that range.
    let rc = unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_PAGEOUT) };
    if rc != 0 {
        tracing::debug!(
            "madvise on embedded font pages: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn release_pages(_bytes: &'static [u8]) {}

/// Splits text into runs of one face each.
fn runs(fonts: &Fonts, text: &str, bold: bool) -> Vec<(Face, String)> {
    let mut out: Vec<(Face, String)> = Vec::new();
    for c in text.chars() {
        let (face, _) = fonts.face(c, bold);
        match out.last_mut() {
            Some((f, run)) if *f == face => run.push(c),
            _ => out.push((face, c.to_string())),
        }
    }
    out
}

/// A text's width in millimetres.
fn width_mm(fonts: &Fonts, text: &str, size_pt: f32, bold: bool) -> f32 {
    text.chars()
        .map(|c| {
            let (_, font) = fonts.face(c, bold);
            let upm = f32::from(font.pdf_font_metrics.units_per_em.max(1));
            let gid = font.lookup_glyph_index(u32::from(c)).unwrap_or(0);
            f32::from(font.get_horizontal_advance(gid)) / upm
        })
        .map(|em| Mm::from(Pt(em * size_pt)).0)
        .sum()
}

struct Canvas<'a> {
    ops: Vec<Op>,
    fonts: &'a Fonts,
    /// Font ids by face index: latin, latin bold, cjk.
    ids: [FontId; 3],
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Center,
    Right,
}

impl Canvas<'_> {
    /// Writes one line at a baseline; shrinks the size (not under 60 %) so it fits `max_w`.
    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        text: &str,
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        color: Color,
        align: Align,
        max_w: f32,
    ) {
        let mut size = size;
        let mut w = width_mm(self.fonts, text, size, bold);
        if w > max_w && w > 0.0 {
            size = (size * max_w / w).max(size * 0.6);
            w = width_mm(self.fonts, text, size, bold);
        }
        let left = match align {
            Align::Left => x,
            Align::Center => x - w / 2.0,
            Align::Right => x - w,
        };
        let runs = runs(self.fonts, text, bold);
        let stroked = runs.iter().any(|(face, _)| face.faux_bold);
        if stroked {
            self.ops.extend([
                Op::SaveGraphicsState,
                Op::SetOutlineColor { col: color.clone() },
                Op::SetOutlineThickness {
                    pt: Pt(size * FAUX_BOLD_STROKE),
                },
            ]);
        }
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor { col: color },
            Op::SetTextCursor {
                pos: Point::new(Mm(left), Mm(y)),
            },
        ]);
        // Each run continues where the previous one ended.
        let mut filled_only = true;
        for (face, run) in runs {
            if face.faux_bold == filled_only {
                filled_only = !face.faux_bold;
                self.ops.push(Op::SetTextRenderingMode {
                    mode: if face.faux_bold {
                        TextRenderingMode::FillStroke
                    } else {
                        TextRenderingMode::Fill
                    },
                });
            }
            self.ops.push(Op::SetFont {
                font: PdfFontHandle::External(self.ids[face.index].clone()),
                size: Pt(size),
            });
            self.ops.push(Op::ShowText {
                items: vec![TextItem::Text(run)],
            });
        }
        if !filled_only {
            self.ops.push(Op::SetTextRenderingMode {
                mode: TextRenderingMode::Fill,
            });
        }
        self.ops.push(Op::EndTextSection);
        if stroked {
            self.ops.push(Op::RestoreGraphicsState);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color, mode: PaintMode, line: f32) {
        self.ops.push(Op::SaveGraphicsState);
        match mode {
            PaintMode::Stroke => {
                self.ops.push(Op::SetOutlineColor { col: color });
                self.ops.push(Op::SetOutlineThickness { pt: Pt(line) });
            }
            _ => self.ops.push(Op::SetFillColor { col: color }),
        }
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Mm(x).into(),
                y: Mm(y).into(),
                width: Mm(w).into(),
                height: Mm(h).into(),
                mode: Some(mode),
                winding_order: None,
            },
        });
        self.ops.push(Op::RestoreGraphicsState);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, color: Color, width: f32) {
        self.ops.extend([
            Op::SaveGraphicsState,
            Op::SetOutlineColor { col: color },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: Point::new(Mm(x1), Mm(y1)),
                            bezier: false,
                        },
                        LinePoint {
                            p: Point::new(Mm(x2), Mm(y2)),
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            },
            Op::RestoreGraphicsState,
        ]);
    }

    /// The QR code of `url`, `size` mm square with its lower-left corner at (x, y); dark modules
    /// of a row are merged into runs.
    fn qr(&mut self, url: &str, x: f32, y: f32, size: f32) -> Result<(), String> {
        let qr = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M)
            .map_err(|e| format!("QR code: {e}"))?;
        let n = qr.width();
        let colors = qr.to_colors();
        // usize → f32 for a QR width (at most 177 modules) is exact.
        #[allow(clippy::cast_precision_loss)]
        let module = size / n as f32;
        self.ops.push(Op::SaveGraphicsState);
        self.ops.push(Op::SetFillColor {
            col: rgb(20, 33, 29),
        });
        for row in 0..n {
            let mut col = 0;
            while col < n {
                if colors[row * n + col] != qrcode::Color::Dark {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < n && colors[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                #[allow(clippy::cast_precision_loss)]
                let (sx, run, r) = (start as f32, (col - start) as f32, row as f32);
                self.ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Mm(x + sx * module).into(),
                        y: Mm(y + size - (r + 1.0) * module).into(),
                        width: Mm(run * module).into(),
                        height: Mm(module).into(),
                        mode: Some(PaintMode::Fill),
                        winding_order: None,
                    },
                });
            }
        }
        self.ops.push(Op::RestoreGraphicsState);
        Ok(())
    }
}

/// Renders a certificate and attaches its signed credential. `verify_url` is what the QR code
/// opens.
pub fn render(
    data: &CertificateData,
    verify_url: &str,
    credential: &str,
) -> Result<Vec<u8>, String> {
    let fonts = fonts()?;
    let mut doc = PdfDocument::new(&format!("{} — {}", data.title, data.holder_name));
    let ids = [
        doc.add_font(&fonts.latin),
        doc.add_font(&fonts.latin_bold),
        doc.add_font(&fonts.cjk),
    ];
    let mut c = Canvas {
        ops: Vec::new(),
        fonts,
        ids,
    };
    let ink = rgb(20, 33, 29);
    let soft = rgb(74, 90, 85);
    let brand = rgb(15, 92, 77);
    let gold = rgb(184, 142, 52);
    let cx = PAGE_W / 2.0;

    // Frame: a deep green border, a thin gold rule inside it, a band along the top.
    c.rect(
        8.0,
        8.0,
        PAGE_W - 16.0,
        PAGE_H - 16.0,
        brand.clone(),
        PaintMode::Stroke,
        3.0,
    );
    c.rect(
        12.0,
        12.0,
        PAGE_W - 24.0,
        PAGE_H - 24.0,
        gold.clone(),
        PaintMode::Stroke,
        0.8,
    );
    c.rect(
        12.4,
        PAGE_H - 30.0,
        PAGE_W - 24.8,
        17.6,
        rgb(227, 240, 236),
        PaintMode::Fill,
        0.0,
    );

    c.text(
        &data.issuer_name,
        cx,
        PAGE_H - 24.0,
        14.0,
        true,
        brand.clone(),
        Align::Center,
        240.0,
    );
    c.text(
        "CERTIFICATE  ·  证书",
        cx,
        PAGE_H - 42.0,
        11.0,
        false,
        gold.clone(),
        Align::Center,
        200.0,
    );
    c.text(
        &data.title,
        cx,
        PAGE_H - 58.0,
        26.0,
        true,
        ink.clone(),
        Align::Center,
        250.0,
    );
    let mut y = PAGE_H - 68.0;
    if !data.title_zh.is_empty() && data.title_zh != data.title {
        c.text(
            &data.title_zh,
            cx,
            y,
            15.0,
            false,
            ink.clone(),
            Align::Center,
            250.0,
        );
        y -= 9.0;
    }
    let category = if data.category_name_zh.is_empty() {
        data.category_name.clone()
    } else {
        format!("{} · {}", data.category_name, data.category_name_zh)
    };
    c.text(
        &format!("Level {} · {} 级  ·  {category}", data.level, data.level),
        cx,
        y,
        11.0,
        false,
        soft.clone(),
        Align::Center,
        250.0,
    );
    if data.distinction {
        y -= 5.0;
        c.text(
            "with distinction · 优秀",
            cx,
            y,
            11.0,
            true,
            brand.clone(),
            Align::Center,
            250.0,
        );
    }
    c.text(
        "is awarded to · 授予",
        cx,
        y - 13.0,
        10.5,
        false,
        soft.clone(),
        Align::Center,
        200.0,
    );
    c.text(
        &data.holder_name,
        cx,
        y - 29.0,
        30.0,
        true,
        ink.clone(),
        Align::Center,
        230.0,
    );
    c.line(cx - 70.0, y - 33.0, cx + 70.0, y - 33.0, gold.clone(), 0.8);
    c.text(
        &data.holder_organization,
        cx,
        y - 40.0,
        11.0,
        false,
        soft.clone(),
        Align::Center,
        230.0,
    );

    // Competencies attested, two columns, at most ten.
    let top = 62.0;
    c.text(
        "Competencies attested · 认证能力",
        24.0,
        top,
        10.0,
        true,
        brand.clone(),
        Align::Left,
        150.0,
    );
    for (i, k) in data.competencies.iter().take(10).enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let (col, row) = ((i % 2) as f32, (i / 2) as f32);
        let name = if k.name_zh.is_empty() || k.name_zh == k.name {
            k.name.clone()
        } else {
            format!("{} {}", k.name, k.name_zh)
        };
        c.text(
            &format!("{name} — L{}", k.level),
            24.0 + col * 100.0,
            top - 7.0 - row * 6.0,
            8.5,
            false,
            ink.clone(),
            Align::Left,
            96.0,
        );
    }

    // Dates and the code, bottom left; the QR code and URL, bottom right.
    let date = |d: &chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d").to_string();
    c.text(
        &format!(
            "Issued 颁发 {}    Valid until 有效期至 {}",
            date(&data.issued_at),
            date(&data.valid_until)
        ),
        24.0,
        24.0,
        9.5,
        false,
        ink.clone(),
        Align::Left,
        190.0,
    );
    c.text(
        &format!("Verification code 验证码  {}", code::display(&data.code)),
        24.0,
        17.0,
        9.5,
        true,
        ink.clone(),
        Align::Left,
        190.0,
    );
    c.qr(verify_url, PAGE_W - 52.0, 22.0, 30.0)?;
    c.text(
        verify_url,
        PAGE_W - 22.0,
        17.0,
        6.5,
        false,
        soft,
        Align::Right,
        110.0,
    );

    doc.pages.push(PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), c.ops));
    let stamp = printpdf::DateTime::from_unix_timestamp(data.issued_at.timestamp())
        .map_err(|e| format!("issue date: {e}"))?;
    let info = &mut doc.metadata.info;
    info.author = data.issuer_name.clone();
    info.creator = "talentcert".into();
    info.producer = "talentcert (printpdf)".into();
    info.subject = format!("{} — {}", data.title, code::display(&data.code));
    info.keywords = vec!["certificate".into(), data.certification_code.clone()];
    info.identifier = data.code.clone();
    info.creation_date = stamp;
    info.modification_date = stamp;
    info.metadata_date = stamp;

    let options = PdfSaveOptions {
        subset_fonts: true,
        ..Default::default()
    };
    let mut warnings: Vec<PdfWarnMsg> = Vec::new();
    let mut lo = doc.to_lopdf_document(&options, &mut warnings);
    if let Some(w) = warnings
        .iter()
        .find(|w| w.severity == printpdf::PdfParseErrorSeverity::Error)
    {
        return Err(format!("rendering the certificate: {}", w.msg));
    }
    attach(&mut lo, credential.as_bytes(), &data.code)?;
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| format!("writing the PDF: {e}"))?;
    Ok(out)
}

/// The name of the attached credential.
pub const ATTACHMENT: &str = "credential.jwt";

/// Attaches the credential (a PDF embedded file, listed in the catalog's `EmbeddedFiles` and `AF`).
fn attach(lo: &mut lopdf::Document, data: &[u8], code: &str) -> Result<(), String> {
    use lopdf::{dictionary, Object, Stream};
    let size = i64::try_from(data.len()).map_err(|e| e.to_string())?;
    let file = lo.add_object(Stream::new(
        dictionary! {
            "Type" => "EmbeddedFile",
            "Subtype" => Object::Name(b"application/jwt".to_vec()),
            "Params" => dictionary! { "Size" => size },
        },
        data.to_vec(),
    ));
    let spec = lo.add_object(dictionary! {
        "Type" => "Filespec",
        "F" => Object::string_literal(ATTACHMENT),
        "UF" => Object::string_literal(ATTACHMENT),
        "EF" => dictionary! { "F" => file, "UF" => file },
        "Desc" => Object::string_literal(format!("Signed Open Badges 3.0 credential of certificate {code}")),
        "AFRelationship" => "Data",
    });
    let catalog = lo
        .catalog_mut()
        .map_err(|e| format!("the PDF has no catalog: {e}"))?;
    catalog.set(
        "Names",
        dictionary! { "EmbeddedFiles" => dictionary! {
            "Names" => vec![Object::string_literal(ATTACHMENT), Object::Reference(spec)],
        } },
    );
    catalog.set("AF", vec![Object::Reference(spec)]);
    lo.version = "1.7".into();
    Ok(())
}

/// The credential attached to a certificate PDF, if the bytes are a PDF that holds one.
pub fn attached_credential(bytes: &[u8]) -> Option<String> {
    let doc = lopdf::Document::load_mem(bytes).ok()?;
    let catalog = doc.catalog().ok()?;
    let names = resolve(&doc, catalog.get(b"Names").ok()?)?.as_dict().ok()?;
    let files = resolve(&doc, names.get(b"EmbeddedFiles").ok()?)?
        .as_dict()
        .ok()?;
    let list = resolve(&doc, files.get(b"Names").ok()?)?.as_array().ok()?;
    for pair in list.chunks(2) {
        let [name, spec] = pair else { continue };
        let name = resolve(&doc, name)?.as_str().ok()?;
        if name != ATTACHMENT.as_bytes() {
            continue;
        }
        let spec = resolve(&doc, spec)?.as_dict().ok()?;
        let ef = resolve(&doc, spec.get(b"EF").ok()?)?.as_dict().ok()?;
        let stream = resolve(&doc, ef.get(b"F").ok()?)?.as_stream().ok()?;
        let content = stream
            .decompressed_content()
            .unwrap_or_else(|_| stream.content.clone());
        return String::from_utf8(content).ok();
    }
    None
}

fn resolve<'a>(doc: &'a lopdf::Document, object: &'a lopdf::Object) -> Option<&'a lopdf::Object> {
    match object {
        lopdf::Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    pub(crate) fn sample(name: &str) -> CertificateData {
        let issued = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        CertificateData::example(name, issued)
    }

    fn pdftotext(pdf: &[u8]) -> Option<String> {
        let dir = std::env::temp_dir().join(format!("tc-pdf-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join("c.pdf");
        std::fs::write(&path, pdf).ok()?;
        let out = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .ok()?;
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8(out.stdout).ok()
    }

    #[test]
    fn names_in_every_supported_script_render_as_text_in_a_small_pdf() {
        for name in [
            "Jane Doe",
            "José Álvarez Núñez",
            "李娜",
            "山田 太郎",
            "김민준",
            "Zoë Ørsted-Łukasz",
        ] {
            assert!(missing_glyphs(name).unwrap().is_empty(), "{name}");
            let pdf = render(
                &sample(name),
                "https://certs.example.com/verify/7KQ2M9XD4TRAP",
                "a.b.c",
            )
            .unwrap();
            assert!(pdf.len() < 200 * 1024, "{name}: {} bytes", pdf.len());
            if let Ok(dir) = std::env::var("TALENTCERT_PDF_SAMPLES") {
                // Set to look at the samples: TALENTCERT_PDF_SAMPLES=/tmp cargo nextest run pdf
                let _ = std::fs::write(format!("{dir}/sample-{}.pdf", pdf.len()), &pdf);
            }
            assert_eq!(attached_credential(&pdf).as_deref(), Some("a.b.c"));
            let text = pdftotext(&pdf).expect("pdftotext (poppler-utils) is installed");
            assert!(text.contains(name), "{name} not in {text}");
            assert!(text.contains("7KQ2-M9XD-4TRA-P"), "{text}");
        }
    }

    #[test]
    fn scripts_outside_the_fonts_are_named() {
        // Devanagari and Thai are not in the shipped fonts.
        assert_eq!(missing_glyphs("नमस्ते").unwrap().len(), 6);
        assert!(!missing_glyphs("สมชาย").unwrap().is_empty());
    }

    #[test]
    fn a_pdf_without_a_credential_has_none() {
        assert_eq!(attached_credential(b"%PDF-1.7 not really"), None);
        assert_eq!(attached_credential(b""), None);
    }
}
