//! The settings' choices by name: `name`, `Display` and `FromStr` for each enum, with the
//! names the serde forms, the command-line tool and the server use.

use crate::{ColorMode, PolishSearch, SeedScales};

/// `name()`, `Display` and `FromStr` (an `Error::UnknownName` naming `field`) for an enum
/// of unit variants; exported (hidden) so the facade's choices are named the same way.
#[doc(hidden)]
#[macro_export]
macro_rules! __by_name {
    ($ty:ident, $field:literal, { $v0:ident => $n0:literal $(, $variant:ident => $name:literal)* }) => {
        impl $ty {
            #[doc = concat!("The name of this choice: `", $n0, "`" $(, ", `", $name, "`")*, ".")]
            pub fn name(self) -> &'static str {
                match self {
                    Self::$v0 => $n0,
                    $(Self::$variant => $name,)*
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::__private::Error;
            fn from_str(s: &str) -> Result<Self, $crate::__private::Error> {
                match s {
                    $n0 => Ok(Self::$v0),
                    $($name => Ok(Self::$variant),)*
                    _ => Err($crate::__private::Error::UnknownName {
                        field: $field,
                        value: s.to_owned(),
                        choices: concat!($n0 $(, ", ", $name)*),
                    }),
                }
            }
        }
    };
}

crate::__by_name!(ColorMode, "color", { Search => "search", ClosedForm => "closed_form" });
crate::__by_name!(SeedScales, "seed_scales", { Blocks8 => "blocks8", MultiScale => "multi_scale" });
crate::__by_name!(PolishSearch, "polish_search", { HillClimb => "hill_climb", Optimizer => "optimizer" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_others_are_refused() {
        for c in [ColorMode::Search, ColorMode::ClosedForm] {
            assert_eq!(c.name().parse::<ColorMode>().unwrap(), c);
        }
        for s in [SeedScales::Blocks8, SeedScales::MultiScale] {
            assert_eq!(s.to_string().parse::<SeedScales>().unwrap(), s);
        }
        for p in [PolishSearch::HillClimb, PolishSearch::Optimizer] {
            assert_eq!(p.name().parse::<PolishSearch>().unwrap(), p);
        }
        let e = "closed-form".parse::<ColorMode>().unwrap_err().to_string();
        assert!(e.contains("closed_form"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn the_names_are_the_serde_names() {
        let json = serde_json::to_string(&ColorMode::ClosedForm).unwrap();
        assert_eq!(json, "\"closed_form\"");
        let json = serde_json::to_string(&SeedScales::MultiScale).unwrap();
        assert_eq!(json, format!("\"{}\"", SeedScales::MultiScale));
    }
}
