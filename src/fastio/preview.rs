//! Previews and image transforms (`fastio-api.md` §6.10).
//!
//! A preview is two steps: `preview/{type}/preauthorize/` with the key answers a `path` that
//! already carries a token, and a GET on it **without** credentials streams the preview. The
//! path's form is unverified: a value with a scheme is used as is, one starting with
//! `/current/` is joined to the API's origin, anything else to the base URL. An image transform
//! is `transform/image/requestread/` (a token; it ignores image parameters) and then
//! `transform/image/read/?token=…&…` with the parameters, also without credentials. Both URLs
//! are [`TokenUrl`]s: secrets while they live, never logged. A preview that is not ready, or a
//! type that does not apply, is [`Error::NotFound`] with code 143705 (see
//! [`Error::is_preview_unavailable`]).

use super::client::{Client, Op};
use super::error::Error;
use super::retry::Replay;
use super::types::{Download, OutputFormat, PreviewType, TokenUrl, TransformParams};

impl Client {
    /// `GET …/storage/{node}/preview/{type}/preauthorize/`: a URL that serves the preview.
    pub async fn preview_url(
        &self,
        ws: &str,
        node: &str,
        kind: PreviewType,
    ) -> Result<TokenUrl, Error> {
        let path = self.node_path(
            ws,
            node,
            &format!("preview/{}/preauthorize/", kind.as_str()),
        )?;
        let op = self.op(
            "GET /workspace/{ws}/storage/{node}/preview/{type}/preauthorize/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        let path = payload.require_id(&["path", "url"], "preview preauthorize")?;
        Ok(TokenUrl {
            url: self.resolve(&path),
            filename: payload.id(&["primaryFilename", "filename"]),
        })
    }

    /// A URL that renders `node` with `params` (§6.10): the parameters are checked here (a
    /// zero size, a rotation other than 0/90/180/270 or a crop value of 0 is
    /// [`Error::InvalidArgument`]), then `transform/image/requestread/` gives the token.
    pub async fn transform_url(
        &self,
        ws: &str,
        node: &str,
        params: &TransformParams,
    ) -> Result<TokenUrl, Error> {
        let query = transform_query(params)?;
        let path = self.node_path(ws, node, "transform/image/requestread/")?;
        let op = self.op(
            "GET /workspace/{ws}/storage/{node}/transform/image/requestread/",
            Replay::Idempotent,
        );
        let payload = self.call(op, |http| http.get(self.url(&path))).await?;
        let token = payload.require_id(&["token"], "transform requestread")?;
        let mut url = self.url(&self.node_path(ws, node, "transform/image/read/")?);
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("token", &token);
            for (k, v) in &query {
                pairs.append_pair(k, v);
            }
        }
        Ok(TokenUrl {
            url: url.into(),
            filename: None,
        })
    }

    /// Streams a [`TokenUrl`] (a preview or a transform) without credentials, following
    /// redirects. `range` is a `Range` header value.
    pub async fn fetch_token_url(
        &self,
        url: &TokenUrl,
        range: Option<&str>,
    ) -> Result<Download, Error> {
        let op = Op {
            authorized: false,
            ..self.op("GET <preview or transform token URL>", Replay::Idempotent)
        };
        self.fetch_unauthorized(op, url.url.clone(), &[], range)
            .await
    }

    /// The absolute form of a `path` from `preauthorize/`.
    fn resolve(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_owned();
        }
        let base = self.base_url();
        if path.starts_with("/current/") {
            let origin = base.strip_suffix("/current").unwrap_or(base);
            return format!("{origin}{path}");
        }
        format!("{base}/{}", path.trim_start_matches('/'))
    }
}

/// The query pairs of a transform, checked, unset keys left out.
pub(crate) fn transform_query(p: &TransformParams) -> Result<Vec<(&'static str, String)>, Error> {
    let bad = |what: &str| Err(Error::InvalidArgument(format!("transform: {what}")));
    let mut q = Vec::new();
    if let Some(f) = p.output_format {
        q.push((
            "output-format",
            match f {
                OutputFormat::Png => "png",
                OutputFormat::Jpg => "jpg",
            }
            .to_owned(),
        ));
    }
    for (key, value) in [("width", p.width), ("height", p.height)] {
        match value {
            Some(0) => return bad("width and height must be positive"),
            Some(v) => q.push((key, v.to_string())),
            None => {}
        }
    }
    if let Some(size) = p.size {
        q.push(("size", size.as_str().to_owned()));
    }
    if let Some(c) = p.crop {
        if [c.x, c.y, c.width, c.height].contains(&0) {
            return bad("every crop value must be positive");
        }
        q.push(("cropwidth", c.width.to_string()));
        q.push(("cropheight", c.height.to_string()));
        q.push(("cropx", c.x.to_string()));
        q.push(("cropy", c.y.to_string()));
    }
    match p.rotate {
        None => {}
        Some(r @ (0 | 90 | 180 | 270)) => q.push(("rotate", r.to_string())),
        Some(_) => return bad("rotate must be 0, 90, 180 or 270"),
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fastio::{ClientConfig, Crop, SizePreset};
    use secrecy::SecretString;

    #[test]
    fn preview_paths_resolve_against_the_origin_or_the_base() {
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:9/current",
            SecretString::from("k"),
        ))
        .expect("client");
        assert_eq!(
            client.resolve("/current/workspace/1/storage/n/preview/thumbnail/read/t/file/a.jpg"),
            "http://127.0.0.1:9/current/workspace/1/storage/n/preview/thumbnail/read/t/file/a.jpg"
        );
        assert_eq!(
            client.resolve("https://cdn.example/x"),
            "https://cdn.example/x"
        );
        assert_eq!(
            client.resolve("workspace/1/x"),
            "http://127.0.0.1:9/current/workspace/1/x"
        );
    }

    #[test]
    fn transform_parameters_are_checked_and_unset_ones_left_out() {
        let q = transform_query(&TransformParams {
            output_format: Some(OutputFormat::Jpg),
            width: Some(320),
            size: Some(SizePreset::IconSmall),
            rotate: Some(90),
            ..TransformParams::default()
        })
        .expect("valid");
        assert_eq!(
            q,
            [
                ("output-format", "jpg".to_owned()),
                ("width", "320".to_owned()),
                ("size", "IconSmall".to_owned()),
                ("rotate", "90".to_owned())
            ]
        );
        let zero = TransformParams {
            height: Some(0),
            ..TransformParams::default()
        };
        assert!(transform_query(&zero).is_err());
        let crop = TransformParams {
            crop: Some(Crop {
                x: 0,
                y: 1,
                width: 2,
                height: 3,
            }),
            ..TransformParams::default()
        };
        assert!(transform_query(&crop).is_err());
        let rotate = TransformParams {
            rotate: Some(45),
            ..TransformParams::default()
        };
        assert!(transform_query(&rotate).is_err());
    }
}
