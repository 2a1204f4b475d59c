//! Asking: each answer comes from its flag, or, in a terminal, from a
//! prompt on stderr answered on stdin. Without a terminal every missing
//! answer is an error naming its flag.

use std::io::{BufRead, Write};

use anyhow::{Context, bail};

use super::answers::{
    Answers, InvalidAnswer, parse_clients, parse_idp, parse_runs, parse_users, parse_yes_no,
};
use crate::cli::InitArgs;

/// Asks questions on a line-based terminal.
pub struct Prompter<R, W> {
    input: R,
    output: W,
    /// Shown before the first question, if there is one.
    intro: Option<String>,
}

impl<R: BufRead, W: Write> Prompter<R, W> {
    /// Read answers from `input`, write questions to `output`.
    pub fn new(input: R, output: W) -> Self {
        Prompter {
            input,
            output,
            intro: None,
        }
    }

    /// Show `text` before the first question (and not at all if nothing
    /// needs asking).
    pub fn with_intro(mut self, text: String) -> Self {
        self.intro = Some(text);
        self
    }

    fn question(&mut self, question: &str) -> std::io::Result<()> {
        if let Some(intro) = self.intro.take() {
            writeln!(self.output, "{intro}")?;
        }
        writeln!(self.output, "\n{question}")
    }

    /// Ask until `parse` accepts an answer. `explain` lines are shown once,
    /// before the prompt. Ends with an error when input ends.
    pub fn ask<T>(
        &mut self,
        question: &str,
        explain: &[&str],
        prompt: &str,
        parse: impl Fn(&str) -> Result<T, InvalidAnswer>,
    ) -> anyhow::Result<T> {
        self.question(question)?;
        for line in explain {
            writeln!(self.output, "  {line}")?;
        }
        self.read_answer(question, prompt, || None, parse)
    }

    /// Ask for free text; an empty line means "none".
    pub fn ask_optional(
        &mut self,
        question: &str,
        prompt: &str,
        parse: impl Fn(&str) -> Result<String, InvalidAnswer>,
    ) -> anyhow::Result<Option<String>> {
        self.question(question)?;
        self.read_answer(
            question,
            prompt,
            || Some(None),
            |line| parse(line).map(Some),
        )
    }

    /// Prompt until `parse` accepts a line; a wrong answer is explained and
    /// asked again. An empty line gives `on_empty()`, or is asked again when
    /// that is `None`. The end of input is an error naming `question`.
    fn read_answer<T>(
        &mut self,
        question: &str,
        prompt: &str,
        on_empty: impl Fn() -> Option<T>,
        parse: impl Fn(&str) -> Result<T, InvalidAnswer>,
    ) -> anyhow::Result<T> {
        loop {
            write!(self.output, "{prompt}: ")?;
            self.output.flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                bail!("no answer to \"{question}\": the input ended");
            }
            if line.trim().is_empty() {
                match on_empty() {
                    Some(value) => return Ok(value),
                    None => writeln!(self.output, "  Please answer ({prompt}).")?,
                }
                continue;
            }
            match parse(&line) {
                Ok(value) => return Ok(value),
                Err(invalid) => writeln!(self.output, "  {invalid}; try again.")?,
            }
        }
    }
}

/// A flag's value, parsed, with the flag named in the error.
fn flag<T>(
    name: &str,
    value: &Option<String>,
    parse: impl Fn(&str) -> Result<T, InvalidAnswer>,
) -> anyhow::Result<Option<T>> {
    value
        .as_deref()
        .map(|text| parse(text).map_err(|invalid| anyhow::anyhow!("{name}: {invalid}")))
        .transpose()
}

/// One question of `mcpgate init`, and the flag that answers it.
struct Question {
    text: &'static str,
    explain: &'static [&'static str],
    prompt: &'static str,
    /// Named when the answer is missing and nobody can be asked.
    flag: &'static str,
}

/// One answer: `given` (from its flag) if there is one; else `default`
/// when the question does not matter (`Some`); else asked with `prompter`;
/// else `None`, with the flag recorded in `missing`.
fn answer<T, R: BufRead, W: Write>(
    given: Option<T>,
    default: Option<T>,
    prompter: Option<&mut Prompter<R, W>>,
    question: Question,
    parse: impl Fn(&str) -> Result<T, InvalidAnswer>,
    missing: &mut Vec<&'static str>,
) -> anyhow::Result<Option<T>> {
    if given.is_some() {
        return Ok(given);
    }
    if default.is_some() {
        return Ok(default);
    }
    match prompter {
        Some(p) => Ok(Some(p.ask(
            question.text,
            question.explain,
            question.prompt,
            parse,
        )?)),
        None => {
            missing.push(question.flag);
            Ok(None)
        }
    }
}

/// The answers: from the flags, and from `prompter` for those missing (if
/// there is a terminal). Without one, every missing answer is named.
pub fn gather<R: BufRead, W: Write>(
    args: &InitArgs,
    mut prompter: Option<&mut Prompter<R, W>>,
) -> anyhow::Result<Answers> {
    let mut missing: Vec<&str> = Vec::new();
    let runs = answer(
        flag("--runs", &args.runs, parse_runs)?,
        None,
        prompter.as_deref_mut(),
        Question {
            text: "Where will the gateway run?",
            explain: &[
                "local   on this machine, for the person using it",
                "remote  on a server, reached over the network",
            ],
            prompt: "runs [local/remote]",
            flag: "--runs local|remote",
        },
        parse_runs,
        &mut missing,
    )?;
    let users = answer(
        flag("--users", &args.users, parse_users)?,
        None,
        prompter.as_deref_mut(),
        Question {
            text: "Who will use it?",
            explain: &[
                "one        one person",
                "team       a team of people in your organisation",
                "services   machines only: services, jobs, automation",
                "customers  people outside your organisation",
            ],
            prompt: "users [one/team/services/customers]",
            flag: "--users one|team|services|customers",
        },
        parse_users,
        &mut missing,
    )?;
    let local_single_user =
        matches!((runs, users), (Some(r), Some(u)) if Answers::is_local_single_user(r, u));

    // One person on their own machine: nothing else changes the answer, so
    // the other questions take defaults instead of being asked. Every flag
    // is checked before anything more is asked.
    let on_behalf_of_users = flag(
        "--on-behalf-of-users",
        &args.on_behalf_of_users,
        parse_yes_no,
    )?;
    let idp = flag("--idp", &args.idp, parse_idp)?;
    let certificates = flag("--certificates", &args.certificates, parse_yes_no)?;
    let clients = match args.clients {
        Some(n) => {
            Some(parse_clients(&n.to_string()).map_err(|e| anyhow::anyhow!("--clients: {e}"))?)
        }
        None => None,
    };
    let on_behalf_of_users = answer(
        on_behalf_of_users,
        local_single_user.then_some(false),
        prompter.as_deref_mut(),
        Question {
            text: "Will calls act on behalf of individual users?",
            explain: &[
                "yes  an agent acts as the person who asked, with that person's rights",
                "no   callers act as themselves",
            ],
            prompt: "on behalf of users [yes/no]",
            flag: "--on-behalf-of-users yes|no",
        },
        parse_yes_no,
        &mut missing,
    )?;
    let idp = answer(
        idp,
        local_single_user.then_some(None),
        prompter.as_deref_mut(),
        Question {
            text: "Do you have an identity provider (Okta, Entra ID, Keycloak, Auth0, Google, ...)?",
            explain: &[
                "Give its issuer URL, e.g. https://login.example.com/realms/acme, or `none`.",
            ],
            prompt: "identity provider [URL/none]",
            flag: "--idp URL|none",
        },
        parse_idp,
        &mut missing,
    )?;
    let certificates = answer(
        certificates,
        local_single_user.then_some(false),
        prompter.as_deref_mut(),
        Question {
            text: "Does compliance require certificate (mutual TLS) authentication of clients?",
            explain: &[],
            prompt: "certificates [yes/no]",
            flag: "--certificates yes|no",
        },
        parse_yes_no,
        &mut missing,
    )?;
    let clients = answer(
        clients,
        local_single_user.then_some(1),
        prompter,
        Question {
            text: "Roughly how many client applications or agents will call it?",
            explain: &[],
            prompt: "clients [number]",
            flag: "--clients N",
        },
        parse_clients,
        &mut missing,
    )?;
    if !missing.is_empty() {
        let why = if args.no_input {
            "--no-input was given"
        } else {
            "stdin is not a terminal"
        };
        bail!(
            "mcpgate init needs answers it cannot ask for ({why}): pass {}{}. See `mcpgate init --help`.",
            missing.join(", "),
            if runs.is_none() || users.is_none() {
                " (with --runs local --users one, only those two are needed)"
            } else {
                ""
            }
        );
    }
    let (
        Some(runs),
        Some(users),
        Some(on_behalf_of_users),
        Some(idp),
        Some(certificates),
        Some(clients),
    ) = (runs, users, on_behalf_of_users, idp, certificates, clients)
    else {
        bail!("an answer is missing; see `mcpgate init --help`");
    };
    Ok(Answers {
        runs,
        users,
        on_behalf_of_users,
        idp,
        certificates,
        clients,
    })
}

/// Ask for an optional value with `prompter`; without a terminal, `None`.
pub fn optional_text<R: BufRead, W: Write>(
    prompter: Option<&mut Prompter<R, W>>,
    question: &str,
    prompt: &str,
    parse: impl Fn(&str) -> Result<String, InvalidAnswer>,
) -> anyhow::Result<Option<String>> {
    match prompter {
        Some(p) => p
            .ask_optional(question, prompt, parse)
            .context("cannot read the answer"),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::init::answers::{Runs, Users};
    use clap::Parser;

    fn args(flags: &[&str]) -> InitArgs {
        let mut argv = vec!["mcpgate", "init"];
        argv.extend_from_slice(flags);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Init(args) => args,
            other => panic!("{other:?}"),
        }
    }

    fn ask(flags: &[&str], typed: &str) -> (anyhow::Result<Answers>, String) {
        let mut output = Vec::new();
        let mut prompter = Prompter::new(typed.as_bytes(), &mut output);
        let result = gather(&args(flags), Some(&mut prompter));
        (result, String::from_utf8(output).unwrap())
    }

    #[test]
    fn prompts_ask_only_what_flags_did_not_say_and_ask_again_when_wrong() {
        let (answers, shown) = ask(
            &["--users", "team", "--clients", "4"],
            "cloud\nremote\n\nmaybe\nno\nhttp://idp.example\nhttps://idp.example\nno\n",
        );
        let answers = answers.unwrap();
        assert_eq!(answers.runs, Runs::Remote);
        assert_eq!(answers.users, Users::Team);
        assert!(!answers.on_behalf_of_users);
        assert_eq!(answers.idp.unwrap().as_str(), "https://idp.example/");
        assert!(!answers.certificates);
        assert_eq!(answers.clients, 4);
        assert!(
            shown.contains("`cloud` is not one of: local, remote; try again."),
            "{shown}"
        );
        assert!(
            shown.contains("`maybe` is not one of: yes, no; try again."),
            "{shown}"
        );
        assert!(shown.contains("Please answer"), "{shown}");
        assert!(shown.contains("https URL"), "{shown}");
        assert!(
            !shown.contains("Who will use it?"),
            "given by flag: {shown}"
        );
        assert!(!shown.contains("how many client"), "given by flag: {shown}");
    }

    #[test]
    fn one_local_person_is_asked_two_questions() {
        let (answers, shown) = ask(&[], "local\none\n");
        let answers = answers.unwrap();
        assert_eq!((answers.runs, answers.users), (Runs::Local, Users::One));
        assert!(!shown.contains("identity provider"), "{shown}");
    }

    #[test]
    fn the_end_of_input_is_an_error_not_a_loop() {
        let (answers, _) = ask(&[], "remote\n");
        let error = answers.unwrap_err().to_string();
        assert!(
            error.contains("Who will use it?") && error.contains("input ended"),
            "{error}"
        );
    }

    #[test]
    fn without_a_terminal_every_missing_flag_is_named() {
        let no_terminal: Option<&mut Prompter<&[u8], Vec<u8>>> = None;
        let error = gather(&args(&["--runs", "remote"]), no_terminal)
            .unwrap_err()
            .to_string();
        for flag in [
            "--users",
            "--on-behalf-of-users",
            "--idp",
            "--certificates",
            "--clients",
        ] {
            assert!(error.contains(flag), "{flag}: {error}");
        }
        assert!(!error.contains("--runs local|remote"), "{error}");
        assert!(error.contains("stdin is not a terminal"), "{error}");

        let no_terminal: Option<&mut Prompter<&[u8], Vec<u8>>> = None;
        let local = gather(&args(&["--runs", "local", "--users", "one"]), no_terminal).unwrap();
        assert_eq!(local.clients, 1);

        let no_terminal: Option<&mut Prompter<&[u8], Vec<u8>>> = None;
        let error = gather(&args(&["--runs", "moon"]), no_terminal)
            .unwrap_err()
            .to_string();
        assert_eq!(error, "--runs: `moon` is not one of: local, remote");
    }
}
