//! The one way authfn holds a secret: the `secret_type!` macro.
//!
//! Every token, code, key, secret and password is a type declared with it, so each one:
//! - prints `Name([redacted])` under `Debug`, wherever it ends up (a log line, a panic, a
//!   struct's derived `Debug`);
//! - gives up its value only through `secret()`, a name that stands out in review;
//! - has no `PartialEq`: comparing two secrets is [`ct_eq`](self#constant-time), explicitly,
//!   in constant time;
//! - is `Clone` only when declared so: one-use values (a PKCE verifier, a refresh token
//!   about to be handed out) are not.
//!
//! # Constant time
//! `ct_eq` takes time that depends only on the lengths of the two values, never on where
//! they differ, so a comparison cannot be timed to guess a secret byte by byte.

/// Declares a secret newtype: `secret_type!(/// docs #[derive(Clone)] pub struct Name(Inner));`.
/// `Inner` must be `AsRef<[u8]>` (a `String`, a `Vec<u8>`, a byte array). Constructors stay
/// with each type, since each secret has its own rules for where it may come from. The two
/// methods it adds are as visible as the type.
macro_rules! secret_type {
    ($(#[$attr:meta])* $vis:vis struct $name:ident($inner:ty);) => {
        $(#[$attr])*
        $vis struct $name($inner);

        impl $name {
            /// The secret itself. Every call site is a place the secret leaves its wrapper:
            /// never log or store what this returns.
            #[allow(dead_code, reason = "part of every secret's interface, read back by most but not all")]
            $vis fn secret(&self) -> &$inner {
                &self.0
            }

            /// Equality in constant time (depends only on the lengths).
            #[allow(dead_code, reason = "part of every secret's interface; only some secrets are compared")]
            $vis fn ct_eq(&self, other: &Self) -> bool {
                $crate::crypto::constant_time_eq(
                    ::core::convert::AsRef::<[u8]>::as_ref(&self.0),
                    ::core::convert::AsRef::<[u8]>::as_ref(&other.0),
                )
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

pub(crate) use secret_type;

#[cfg(test)]
mod tests {
    secret_type!(
        /// A test secret.
        #[derive(Clone)]
        struct Probe(String);
    );

    #[test]
    fn debug_is_redacted_and_comparison_is_explicit() {
        let a = Probe("hunter2-correct-horse".into());
        assert_eq!(format!("{a:?}"), "Probe([redacted])");
        assert_eq!(format!("{:?}", Some(a.clone())), "Some(Probe([redacted]))");
        assert!(a.ct_eq(&a.clone()));
        assert!(!a.ct_eq(&Probe("hunter2-correct-horsf".into())));
        assert!(!a.ct_eq(&Probe("hunter2".into())));
        assert_eq!(a.secret(), "hunter2-correct-horse");
    }
}
