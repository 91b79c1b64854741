//! The error type of `circlefit-core`.

/// A boxed error from a user-supplied component (renderer, cost function or optimizer).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `circlefit-core`.
///
/// Each variant names the offending field and value, so a message can be shown to a user
/// as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A canvas or image with zero width or height.
    #[error("image is empty ({width}x{height}); width and height must be at least 1")]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A canvas larger than [`MAX_DIMENSION`](crate::MAX_DIMENSION) on a side.
    #[error("image is too large ({width}x{height}); each side must be at most {max} pixels")]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The largest supported side.
        max: u32,
    },
    /// A pixel buffer whose length does not match `4 * width * height`.
    #[error("pixel buffer has {actual} bytes but a {width}x{height} RGBA8 image needs {expected}")]
    BufferLength {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The required length in bytes.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// Two images that must have the same size do not.
    #[error(
        "size mismatch: {what} is {actual_w}x{actual_h} but the reference is {expected_w}x{expected_h}"
    )]
    SizeMismatch {
        /// Which image has the wrong size (for example `"base canvas"`).
        what: &'static str,
        /// The reference width.
        expected_w: u32,
        /// The reference height.
        expected_h: u32,
        /// The offending width.
        actual_w: u32,
        /// The offending height.
        actual_h: u32,
    },
    /// A parameter that must be finite is NaN or infinite.
    #[error("{field} must be finite, got {value}")]
    NonFinite {
        /// The parameter's name.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A name that is not one of a setting's choices.
    #[error("{field} = {value:?} is not one of {choices}")]
    UnknownName {
        /// The setting's name.
        field: &'static str,
        /// The name given.
        value: String,
        /// The accepted names.
        choices: &'static str,
    },
    /// A parameter outside its documented range.
    #[error("{field} = {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// The parameter's name.
        field: &'static str,
        /// The value given.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A flat parameter vector whose length is not a multiple of
    /// [`PARAMS_PER_CIRCLE`](crate::PARAMS_PER_CIRCLE).
    #[error(
        "parameter vector has {len} numbers; it must be a multiple of 7 (x, y, r, red, green, blue, alpha per circle)"
    )]
    ParamLength {
        /// The length given.
        len: usize,
    },
    /// An invalid fitting setting, for example zero circles or a batch size of 0.
    #[error("invalid setting {field} = {value}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// The value given, as text.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The optimizer returned a best point of the wrong dimension.
    #[error("optimizer returned {actual} parameters, expected {expected}")]
    OptimizerDimension {
        /// The dimension of the problem.
        expected: usize,
        /// The length returned.
        actual: usize,
    },
    /// The renderer failed.
    #[error("renderer failed: {0}")]
    Renderer(#[source] BoxError),
    /// The cost function failed.
    #[error("cost function failed: {0}")]
    Cost(#[source] BoxError),
    /// The optimizer failed.
    #[error("optimizer failed: {0}")]
    Optimizer(#[source] BoxError),
}

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn check_finite(field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { field, value })
    }
}

pub(crate) fn check_range(field: &'static str, value: f64, min: f64, max: f64) -> Result<()> {
    check_finite(field, value)?;
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}
