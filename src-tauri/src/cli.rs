//! The headless commands of `setget-admin`: the same engine as the window, for admins who
//! script and for machines without a display.
//!
//! Exit codes: 0 ok, 1 local failure (keyring, files), 2 bad input (including a wrong email or
//! password), 3 signed out by the server, 4 server unreachable.

use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use setget_core::account::AppDirs;
use setget_core::notify::DesktopNotifier;
use setget_core::secret::{KeyringStore, Sensitive};
use setget_core::{CoreError, Engine, ErrorKind};

/// A headless command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in; the session token goes to the system keyring.
    SignIn {
        /// The SetGet server, e.g. https://setget.example (http:// only to this computer).
        #[arg(long)]
        server: String,
        /// The email you sign in with.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Sign out at the server and remove the token from the keyring.
    SignOut,
}

/// The exit code for an engine failure.
fn exit_code(e: &CoreError) -> u8 {
    match e.kind {
        ErrorKind::InvalidInput | ErrorKind::InsecureUrl | ErrorKind::Server => 2,
        ErrorKind::SignedOut | ErrorKind::NotSignedIn => 3,
        ErrorKind::Unreachable => 4,
        ErrorKind::Keyring
        | ErrorKind::Storage
        | ErrorKind::Protocol
        | ErrorKind::Notification
        | ErrorKind::Internal => 1,
    }
}

fn fail(e: &CoreError) -> ExitCode {
    eprintln!("setget-admin: {}", e.message);
    ExitCode::from(exit_code(e))
}

fn read_password(from_stdin: bool) -> Result<Sensitive<String>, CoreError> {
    let bad = |what: &str, e: std::io::Error| {
        CoreError::new(
            ErrorKind::InvalidInput,
            format!("could not read the password from {what}: {e}"),
        )
    };
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| bad("standard input", e))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("Password: ").map_err(|e| bad("the terminal", e))?
    };
    Ok(Sensitive::new(password))
}

/// Runs a headless command to completion.
pub fn run(command: Command) -> ExitCode {
    let dirs = match AppDirs::from_os() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let engine = Engine::new(dirs, Arc::new(KeyringStore), Arc::new(DesktopNotifier));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("setget-admin: no async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::SignIn {
                server,
                email,
                password_stdin,
            } => {
                let password = read_password(password_stdin)?;
                let account = engine.sign_in(&server, &email, password).await?;
                println!(
                    "signed in to {} ({}) as {} on {}",
                    account.workspace_name, account.workspace_slug, account.email, account.server
                );
                Ok(())
            }
            Command::SignOut => {
                if engine.restore()?.is_none() {
                    println!("not signed in");
                    return Ok(());
                }
                engine.sign_out().await?;
                println!("signed out; the token is gone from the keyring");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use setget_protocol::ErrorCode;

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(exit_code(&CoreError::new(ErrorKind::InsecureUrl, "x")), 2);
        assert_eq!(
            exit_code(&CoreError::from_server(
                ErrorCode::InvalidCredentials,
                "x".into()
            )),
            2
        );
        assert_eq!(
            exit_code(&CoreError::from_server(
                ErrorCode::SessionExpired,
                "x".into()
            )),
            3
        );
        assert_eq!(exit_code(&CoreError::new(ErrorKind::Unreachable, "x")), 4);
        assert_eq!(exit_code(&CoreError::new(ErrorKind::Keyring, "x")), 1);
    }
}
