//! [`CliError`]: everything the tool reports as one line with exit code 2.

/// A failure the user can act on; printed as `error: …` on one line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A flag's value or a combination of flags.
    #[error("{0}")]
    Usage(String),
    /// The library refused the settings, an image, or a component failed.
    #[error(transparent)]
    Circlefit(#[from] circlefit::Error),
    /// A checkpoint cannot be read or resumed.
    #[error("{path}: {source}")]
    Checkpoint {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: circlefit::checkpoint::CheckpointError,
    },
    /// Writing an output.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// The same error with a hint of what to do, as one usage line.
    pub(crate) fn with_hint(self, hint: &str) -> Self {
        Self::Usage(format!("{self}; {hint}"))
    }

    /// A checkpoint error for the file `path` (an I/O error names the path itself).
    pub(crate) fn checkpoint(
        path: &std::path::Path,
        source: circlefit::checkpoint::CheckpointError,
    ) -> Self {
        match source {
            circlefit::checkpoint::CheckpointError::Io(e) => Self::Circlefit(e.into()),
            source => Self::Checkpoint {
                path: path.display().to_string(),
                source,
            },
        }
    }
}

impl From<circlefit::core::Error> for CliError {
    fn from(e: circlefit::core::Error) -> Self {
        Self::Circlefit(e.into())
    }
}

impl From<circlefit::io::Error> for CliError {
    fn from(e: circlefit::io::Error) -> Self {
        Self::Circlefit(e.into())
    }
}

impl From<circlefit::mayfly::MayflyError> for CliError {
    fn from(e: circlefit::mayfly::MayflyError) -> Self {
        Self::Circlefit(e.into())
    }
}

impl From<circlefit::cost::Error> for CliError {
    fn from(e: circlefit::cost::Error) -> Self {
        Self::Circlefit(e.into())
    }
}

impl From<circlefit::render::Error> for CliError {
    fn from(e: circlefit::render::Error) -> Self {
        Self::Circlefit(e.into())
    }
}
