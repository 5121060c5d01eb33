//! `shipwatch verify` (is this signature right for this body and my secret, and if not, why) and
//! `shipwatch sign` (the signature AfterShip would send for a body).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shipwatch_aftership::{diagnose, sign, DeliveryVerdict, SIGNATURE_HEADER};

use crate::common::{read_body, secrets_from_env_or_prompt, CmdResult, Failure};

#[derive(Args)]
pub struct VerifyArgs {
    /// The raw body exactly as received: a file, or - for stdin
    #[arg(long, value_name = "FILE|-")]
    body: PathBuf,
    /// The aftership-hmac-sha256 header value as received
    #[arg(long, value_name = "SIG", allow_hyphen_values = true)]
    signature: String,
    /// Another header of the request, to recognise other AfterShip products' signatures
    /// (repeatable), e.g. --header 'as-signature-hmac-sha256: ...'
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
}

#[derive(Args)]
pub struct SignArgs {
    /// The body to sign, byte for byte: a file, or - for stdin
    #[arg(long, value_name = "FILE|-")]
    body: PathBuf,
}

pub fn verify(args: VerifyArgs) -> CmdResult {
    let body = read_body(&args.body)?;
    let mut headers = vec![(SIGNATURE_HEADER.to_owned(), args.signature.clone())];
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| Failure::Usage(format!("--header {header:?} is not like 'Name: value'")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let secrets = secrets_from_env_or_prompt("verify the signature")?;
    let diagnosis = diagnose(&headers, &body, &secrets);
    let verdict = match diagnosis.verdict {
        DeliveryVerdict::Valid(slot) => format!("valid ({} secret)", slot.as_str()),
        other => other.as_str().to_owned(),
    };
    println!("verdict:   {verdict}");
    println!("diagnosis: {}", diagnosis.diagnosis);
    if let Some(advice) = &diagnosis.advice {
        println!("advice:    {advice}");
    }
    if !matches!(diagnosis.verdict, DeliveryVerdict::Valid(_)) {
        println!("received:  {}", args.signature);
        if let Some(expected) = &diagnosis.expected {
            println!("expected:  {expected}");
        }
        println!("body:      {} bytes", body.len());
    }
    Ok(if matches!(diagnosis.verdict, DeliveryVerdict::Valid(_)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn sign_body(args: SignArgs) -> CmdResult {
    let body = read_body(&args.body)?;
    let secrets = secrets_from_env_or_prompt("sign the body")?;
    let secret = secrets.current.unwrap_or_default();
    println!("{}", sign(&secret, &body));
    Ok(ExitCode::SUCCESS)
}
