//! Image work for previews and transforms (§6.10), bounded so that no upload can make the
//! emulator run out of memory: the header's dimensions are checked before any pixel is decoded,
//! and the decoder runs under `image`'s [`Limits`] (a width/height cap and an allocation cap),
//! so a decompression bomb fails with an error instead of allocating. Only PNG, JPEG, GIF and
//! WebP are compiled in. Everything here is synchronous: callers run it on the blocking pool,
//! one image at a time (`EmulatorState::imaging`).

use std::io::Cursor;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// Longest side of a generated thumbnail (DESIGN §3c: at most 256 px).
pub const THUMB_SIDE: u32 = 256;
/// Widest or tallest image decoded at all.
pub const MAX_SIDE: u32 = 16_384;
/// Most pixels decoded (a 12-megapixel photo fits three times over).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most bytes the decoder may allocate (40 MP × 4 bytes, plus room).
pub const MAX_ALLOC: u64 = 192 * 1024 * 1024;
/// Largest width or height a transform may ask for.
pub const MAX_OUTPUT_SIDE: u32 = 8_192;

/// Why an image could not be used. The text is safe to show (no paths).
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// Not PNG, JPEG, GIF or WebP (by content), or unreadable.
    #[error("not a supported image: {0}")]
    Unsupported(String),
    /// The header claims more pixels than the limits allow (a decompression bomb, or a huge
    /// image).
    #[error("image too large: {0}")]
    TooLarge(String),
    /// A request that does not fit the image (a crop outside it).
    #[error("{0}")]
    Invalid(String),
}

/// Whether a MIME type is one the emulator makes image previews for.
pub fn is_image_mime(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The MIME type of an output format.
pub fn mime_of(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::WebP => "image/webp",
        _ => "image/png",
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, ImagingError> {
    let unsupported = |e: std::io::Error| ImagingError::Unsupported(e.kind().to_string());
    let mut reader = ImageReader::open(path)
        .map_err(unsupported)?
        .with_guessed_format()
        .map_err(unsupported)?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP) => {}
        other => {
            let name = other.map_or("unknown format", |f| f.extensions_str()[0]);
            return Err(ImagingError::Unsupported(name.to_owned()));
        }
    }
    reader.limits(limits());
    Ok(reader)
}

/// Decodes the image at `path` (first frame of a GIF) within the limits, returning it with its
/// format. The dimensions are read from the header first and checked before decoding.
pub fn open_bounded(path: &Path) -> Result<(DynamicImage, ImageFormat), ImagingError> {
    let probe = reader(path)?;
    let format = probe
        .format()
        .ok_or_else(|| ImagingError::Unsupported("unknown format".into()))?;
    let (w, h) = probe
        .into_dimensions()
        .map_err(|e| classify(&e, "header"))?;
    if w == 0 || h == 0 {
        return Err(ImagingError::Unsupported("zero-sized image".into()));
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ImagingError::TooLarge(format!(
            "{w}×{h} is over the limit of {MAX_PIXELS} pixels or {MAX_SIDE} px a side"
        )));
    }
    let image = reader(path)?.decode().map_err(|e| classify(&e, "pixels"))?;
    Ok((image, format))
}

fn classify(e: &image::ImageError, stage: &str) -> ImagingError {
    match e {
        image::ImageError::Limits(l) => ImagingError::TooLarge(format!("{stage}: {l}")),
        other => ImagingError::Unsupported(format!("{stage}: {other}")),
    }
}

/// Encodes `image` as `format` (JPEG drops alpha; anything but JPEG, GIF and WebP is PNG).
pub fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImagingError> {
    let mut out = Cursor::new(Vec::new());
    let done = match format {
        ImageFormat::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 82))
        }
        ImageFormat::Gif | ImageFormat::WebP => {
            let rgba = DynamicImage::ImageRgba8(image.to_rgba8());
            rgba.write_to(&mut out, format)
        }
        _ => image.write_to(&mut out, ImageFormat::Png),
    };
    done.map_err(|e| ImagingError::Unsupported(format!("encode: {e}")))?;
    Ok(out.into_inner())
}

/// A thumbnail: at most [`THUMB_SIDE`] px on its longest side, JPEG for a JPEG source and PNG
/// otherwise (keeps transparency). Returns the bytes, their MIME type and the dimensions.
pub fn thumbnail(path: &Path) -> Result<(Vec<u8>, &'static str, u32, u32), ImagingError> {
    let (image, format) = open_bounded(path)?;
    // Shrink, then free the full-size pixels before encoding.
    let small = if image.width() > THUMB_SIDE || image.height() > THUMB_SIDE {
        let small = image.thumbnail(THUMB_SIDE, THUMB_SIDE);
        drop(image);
        small
    } else {
        image
    };
    let out = if format == ImageFormat::Jpeg {
        ImageFormat::Jpeg
    } else {
        ImageFormat::Png
    };
    let bytes = encode(&small, out)?;
    Ok((bytes, mime_of(out), small.width(), small.height()))
}

/// A requested image transform (§6.10 parameters, already validated for form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transform {
    /// Box to fit into (width, height); either may be absent.
    pub width: Option<u32>,
    /// See `width`.
    pub height: Option<u32>,
    /// Crop rectangle `(x, y, width, height)`, applied first.
    pub crop: Option<(u32, u32, u32, u32)>,
    /// Clockwise rotation in degrees: 0, 90, 180 or 270.
    pub rotate: u32,
    /// Output format; the source's when `None`.
    pub format: Option<ImageFormat>,
}

/// Applies `t` to the image at `path`: crop, then resize (aspect kept, fitting the box), then
/// rotate. Returns the bytes and their MIME type.
pub fn transform(path: &Path, t: &Transform) -> Result<(Vec<u8>, &'static str), ImagingError> {
    let (mut image, source) = open_bounded(path)?;
    if let Some((x, y, w, h)) = t.crop {
        let fits = u64::from(x) + u64::from(w) <= u64::from(image.width())
            && u64::from(y) + u64::from(h) <= u64::from(image.height());
        if !fits {
            return Err(ImagingError::Invalid(format!(
                "the crop {w}×{h}+{x}+{y} lies outside the {}×{} image",
                image.width(),
                image.height()
            )));
        }
        image = image.crop_imm(x, y, w, h);
    }
    let (w, h) = (image.width(), image.height());
    let target = match (t.width, t.height) {
        (None, None) => None,
        (Some(tw), None) => Some((tw, scaled(h, tw, w))),
        (None, Some(th)) => Some((scaled(w, th, h), th)),
        (Some(tw), Some(th)) => Some((tw, th)),
    };
    if let Some((tw, th)) = target {
        if u64::from(tw) * u64::from(th) > MAX_PIXELS {
            return Err(ImagingError::TooLarge(format!("{tw}×{th} output")));
        }
        image = image.resize(tw.max(1), th.max(1), FilterType::Triangle);
    }
    image = match t.rotate {
        90 => image.rotate90(),
        180 => image.rotate180(),
        270 => image.rotate270(),
        _ => image,
    };
    let format = t.format.unwrap_or(source);
    Ok((encode(&image, format)?, mime_of(format)))
}

/// `side × num / den`, rounded, at least 1, capped at [`MAX_OUTPUT_SIDE`].
fn scaled(side: u32, num: u32, den: u32) -> u32 {
    let v = (u64::from(side) * u64::from(num) + u64::from(den) / 2) / u64::from(den.max(1));
    v.clamp(1, u64::from(MAX_OUTPUT_SIDE)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_the_aspect_and_stays_positive() {
        assert_eq!(scaled(3000, 400, 4000), 300);
        assert_eq!(scaled(1, 1, 10_000), 1);
        assert_eq!(scaled(10_000, 10_000, 1), MAX_OUTPUT_SIDE);
    }

    #[test]
    fn a_header_claiming_huge_dimensions_is_refused_before_decoding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bomb.png");
        std::fs::write(&path, png_header(60_000, 60_000)).expect("write");
        assert!(matches!(
            open_bounded(&path),
            Err(ImagingError::TooLarge(_))
        ));
    }

    /// A PNG signature and IHDR only: enough for the header read.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        out.extend_from_slice(&13u32.to_be_bytes());
        out.extend_from_slice(&ihdr);
        out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
