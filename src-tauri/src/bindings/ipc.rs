//! `ui/src/lib/ipc.ts`, generated from the Rust side: every `#[tauri::command]` of
//! `commands.rs` (its name, its arguments as the window sends them, what it answers) read
//! with `syn`, and every event of `events.rs` with its payload. The window's `api.ts` calls
//! commands and listens to events only through these types, so a command renamed, an
//! argument added or an answer changed in Rust fails the type-check until the window follows.
//! The same reading writes the app process's side, `src-tauri/src/window/dispatch.rs`, which
//! runs each command the window process forwards (see `window`). A test fails when either
//! file is stale.

use std::collections::BTreeSet;

use syn::{FnArg, GenericArgument, Item, PathArguments, ReturnType, Type};

/// One command as the window sees it.
struct Command {
    name: String,
    /// `(camelCase name, TypeScript type)`: Tauri takes the arguments by camelCase key.
    args: Vec<(String, String)>,
    answer: String,
    /// The function's parameters in order, as the app fills them in.
    params: Vec<Param>,
    is_async: bool,
    /// Whether it answers a `Result` (its `Err` rejects the page's call).
    fallible: bool,
}

/// A command's parameter, as the app fills it in when the window calls.
#[derive(Debug, PartialEq, Eq)]
enum Param {
    /// The shared state (`State<'_, Shell>`).
    Shell,
    /// The app (`AppHandle`).
    App,
    /// An argument of the page's, by its camelCase key.
    Arg(String),
}

/// Parameters Tauri fills in itself.
const INJECTED: &[&str] = &["State", "AppHandle", "Window", "WebviewWindow"];

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        Type::Reference(r) => last_segment(&r.elem),
        _ => None,
    }
}

fn generic(seg: &syn::PathSegment, n: usize) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    args.args
        .iter()
        .filter_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .nth(n)
}

/// A Rust type as TypeScript, as ts-rs writes it; named types are collected in `named`.
fn typescript(ty: &Type, named: &mut BTreeSet<String>) -> String {
    if let Type::Tuple(t) = ty
        && t.elems.is_empty()
    {
        return "null".into();
    }
    let Some(seg) = last_segment(ty) else {
        panic!("a command uses a type the generator does not know");
    };
    let ident = seg.ident.to_string();
    match ident.as_str() {
        "String" | "str" => "string".into(),
        "bool" => "boolean".into(),
        "i32" | "i64" | "u32" | "u64" | "usize" | "f64" => "number".into(),
        "Option" => format!("{} | null", typescript(generic(seg, 0).unwrap(), named)),
        "Vec" => {
            let inner = typescript(generic(seg, 0).unwrap(), named);
            if inner.contains(' ') {
                format!("({inner})[]")
            } else {
                format!("{inner}[]")
            }
        }
        _ => {
            named.insert(ident.clone());
            ident
        }
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The commands of `source` (the text of `commands.rs`), in order.
fn commands(source: &str, named: &mut BTreeSet<String>) -> Vec<Command> {
    let file = syn::parse_file(source).expect("commands.rs parses");
    let mut out = Vec::new();
    for item in file.items {
        let Item::Fn(f) = item else { continue };
        let is_command = f.attrs.iter().any(|a| {
            let p = a.path();
            p.segments.len() == 2
                && p.segments[0].ident == "tauri"
                && p.segments[1].ident == "command"
        });
        if !is_command {
            continue;
        }
        let mut args = Vec::new();
        let mut params = Vec::new();
        for input in &f.sig.inputs {
            let FnArg::Typed(pat) = input else { continue };
            let kind = last_segment(&pat.ty).map(|s| s.ident.to_string());
            match kind.as_deref() {
                Some("State") => {
                    params.push(Param::Shell);
                    continue;
                }
                Some("AppHandle") => {
                    params.push(Param::App);
                    continue;
                }
                Some(k) if INJECTED.contains(&k) => {
                    panic!("{}: the app process has no window to give", f.sig.ident)
                }
                _ => {}
            }
            let syn::Pat::Ident(name) = &*pat.pat else {
                panic!("{}: an argument without a plain name", f.sig.ident);
            };
            let key = camel(&name.ident.to_string());
            params.push(Param::Arg(key.clone()));
            args.push((key, typescript(&pat.ty, named)));
        }
        let mut fallible = false;
        let answer = match &f.sig.output {
            ReturnType::Default => "null".into(),
            ReturnType::Type(_, ty) => {
                let seg = last_segment(ty).expect("an answer type");
                if seg.ident == "Result" {
                    fallible = true;
                    typescript(generic(seg, 0).unwrap(), named)
                } else {
                    typescript(ty, named)
                }
            }
        };
        out.push(Command {
            name: f.sig.ident.to_string(),
            args,
            answer,
            params,
            is_async: f.sig.asyncness.is_some(),
            fallible,
        });
    }
    out
}

/// `src-tauri/src/window/dispatch.rs`: the app process's side of the window's calls, one
/// arm per command of `commands.rs`, each argument read by its camelCase key as Tauri would.
pub(super) fn render_dispatch() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let source = std::fs::read_to_string(root.join("commands.rs")).unwrap();
    let mut out = String::from(
        "//! Generated from `commands.rs` by `cargo xtask codegen`; do not edit.\n\
         //!\n\
         //! Every command of the window's, run in the app process: its arguments read from the\n\
         //! call's object by camelCase key, its answer or error as JSON.\n\n\
         use serde_json::{Map, Value};\n\
         use tauri::{AppHandle, Manager as _};\n\n\
         use super::{answer, answer_result, arg, unknown_command};\n\
         use crate::commands;\n\
         use crate::shell::Shell;\n\n\
         /// Runs `command` with `args`; `Err` carries what the page's call rejects with.\n\
         pub(super) async fn call(\n\
         \x20   app: &AppHandle,\n\
         \x20   command: &str,\n\
         \x20   args: &Map<String, Value>,\n\
         ) -> Result<Value, Value> {\n\
         \x20   match command {\n",
    );
    for c in commands(&source, &mut BTreeSet::new()) {
        let params: Vec<String> = c
            .params
            .iter()
            .map(|p| match p {
                Param::Shell => "app.state::<Shell>()".to_owned(),
                Param::App => "app.clone()".to_owned(),
                Param::Arg(key) => format!("arg(args, \"{key}\")?"),
            })
            .collect();
        let wrap = if c.fallible {
            "answer_result"
        } else {
            "answer"
        };
        let wait = if c.is_async { ".await" } else { "" };
        let call = format!("commands::{}({}){wait}", c.name, params.join(", "));
        out.push_str(&format!("        \"{}\" => {wrap}({call}),\n", c.name));
    }
    out.push_str("        _ => Err(unknown_command(command)),\n    }\n}\n");
    rustfmt(&out)
}

/// `source` as `cargo fmt` leaves it (the workspace's `rustfmt.toml` applies).
fn rustfmt(source: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rustfmt runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "rustfmt failed on the generated dispatch"
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(super) fn render(cfg: &ts_rs::Config) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let source = std::fs::read_to_string(root.join("commands.rs")).unwrap();
    let mut named = BTreeSet::new();
    let commands = commands(&source, &mut named);
    let events = crate::events::typescript(cfg);
    for (_, payload) in &events {
        named.extend(
            payload
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
                .map(str::to_owned),
        );
    }
    let mut out = String::from(
        "// Generated from src-tauri/src/commands.rs and events.rs by `cargo xtask codegen`; do not edit.\n\n",
    );
    out.push_str(&format!(
        "import type {{ {} }} from \"./bindings\";\n\n",
        named.into_iter().collect::<Vec<_>>().join(", ")
    ));
    out.push_str(
        "/** Every command: the arguments the shell takes (by camelCase key) and its answer. */\n",
    );
    out.push_str("export type Commands = {\n");
    for c in &commands {
        let args: Vec<String> = c.args.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        let args = if args.is_empty() {
            "Record<string, never>".to_owned()
        } else {
            format!("{{ {} }}", args.join("; "))
        };
        out.push_str(&format!(
            "  {}: {{ args: {args}; answer: {} }};\n",
            c.name, c.answer
        ));
    }
    out.push_str(
        "};\n\n/** Every event the shell emits, with its payload. */\nexport type Events = {\n",
    );
    for (name, payload) in &events {
        out.push_str(&format!("  \"{name}\": {payload};\n"));
    }
    out.push_str("};\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_types_read_as_typescript() {
        let mut named = BTreeSet::new();
        let cmds = commands(
            "#[tauri::command]
             pub async fn f(shell: tauri::State<'_, Shell>, app: tauri::AppHandle, member_id: String,
                 limit: Option<u32>, ids: Vec<Option<i64>>) -> Result<Vec<Session>, CoreError> {}
             pub fn not_a_command(x: u32) {}
             #[tauri::command]
             pub fn g() -> Result<(), CoreError> {}",
            &mut named,
        );
        assert_eq!(cmds.len(), 2);
        assert_eq!(
            cmds[0].args,
            [
                ("memberId".to_owned(), "string".to_owned()),
                ("limit".to_owned(), "number | null".to_owned()),
                ("ids".to_owned(), "(number | null)[]".to_owned()),
            ]
        );
        assert_eq!(cmds[0].answer, "Session[]");
        assert_eq!(
            cmds[0].params,
            [
                Param::Shell,
                Param::App,
                Param::Arg("memberId".into()),
                Param::Arg("limit".into()),
                Param::Arg("ids".into()),
            ]
        );
        assert!(cmds[0].is_async && cmds[0].fallible);
        assert_eq!(cmds[1].answer, "null");
        assert!(!cmds[1].is_async && cmds[1].fallible);
        assert_eq!(named.into_iter().collect::<Vec<_>>(), ["Session"]);
    }
}
