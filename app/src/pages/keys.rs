//! Platform admins: master key versions, rotation with progress, retirement.

use leptos::prelude::*;

use super::{error_text, for_platform_admins, when};
use crate::api::{RetireKey, StartRotation, key_overview};

/// Key rotation page.
#[component]
pub fn Keys() -> impl IntoView {
    for_platform_admins(
        || view! { <KeyPanel/> },
        "Only platform admins manage master keys.",
    )
}

#[component]
fn KeyPanel() -> impl IntoView {
    let rotate = ServerAction::<StartRotation>::new();
    let retire = ServerAction::<RetireKey>::new();
    let (tick, set_tick) = signal(0u32);
    let overview = Resource::new(
        move || (rotate.version().get(), retire.version().get(), tick.get()),
        |_| key_overview(),
    );
    // While a rotation runs, refresh its progress every second (browser only).
    Effect::new(move |_| {
        let running = overview
            .get()
            .and_then(|r| r.ok())
            .is_some_and(|o| o.rotations.iter().any(|r| r.status == "running"));
        if running {
            set_timeout(
                move || set_tick.update(|t| *t += 1),
                std::time::Duration::from_secs(1),
            );
        }
    });
    let errors = move || {
        let rotate_err = rotate.value().get().and_then(|r| r.err());
        let retire_err = retire.value().get().and_then(|r| r.err());
        rotate_err
            .or(retire_err)
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };
    view! {
        <section class="panel">
            <h1>"Master keys"</h1>
            <p class="muted">
                "Keys live in the servers' configuration; this page decides which version encrypts and re-encrypts stored credentials."
            </p>
            {errors}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    overview
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(o) => {
                                let candidates: Vec<u32> = o
                                    .versions
                                    .iter()
                                    .filter(|v| v.configured && v.status != "retired")
                                    .map(|v| v.version)
                                    .collect();
                                view! {
                                    <table class="table" id="key-versions">
                                        <thead>
                                            <tr>
                                                <th>"Version"</th>
                                                <th>"Status"</th>
                                                <th>"Configured"</th>
                                                <th>"Rows"</th>
                                                <th></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {o
                                                .versions
                                                .into_iter()
                                                .map(|v| {
                                                    let retirable = v.status == "active" && v.rows == 0;
                                                    view! {
                                                        <tr data-version=v.version>
                                                            <td>{v.version}</td>
                                                            <td data-testid="key-status">{v.status.clone()}</td>
                                                            <td>{if v.configured { "yes" } else { "no" }}</td>
                                                            <td>{v.rows}</td>
                                                            <td>
                                                                {retirable
                                                                    .then(|| {
                                                                        view! {
                                                                            <ActionForm action=retire attr:class="inline">
                                                                                <input type="hidden" name="version" value=v.version/>
                                                                                <button type="submit" class="btn small danger">
                                                                                    "Retire"
                                                                                </button>
                                                                            </ActionForm>
                                                                        }
                                                                    })}
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                    <ActionForm action=rotate attr:class="form inline-form" attr:id="start-rotation">
                                        <label>
                                            "Make primary and re-encrypt"
                                            <select name="version">
                                                {candidates
                                                    .into_iter()
                                                    .map(|v| view! { <option value=v>{format!("version {v}")}</option> })
                                                    .collect_view()}
                                            </select>
                                        </label>
                                        <button type="submit" class="btn primary">"Start rotation"</button>
                                    </ActionForm>
                                    <h2>"Rotations"</h2>
                                    <table class="table" id="rotations">
                                        <thead>
                                            <tr>
                                                <th>"Target"</th>
                                                <th>"Status"</th>
                                                <th>"Progress"</th>
                                                <th>"Started"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {o
                                                .rotations
                                                .into_iter()
                                                .map(|r| {
                                                    let percent = if r.total == 0 { 100 } else { (r.done * 100 / r.total).min(100) };
                                                    view! {
                                                        <tr>
                                                            <td>{format!("version {}", r.target_version)}</td>
                                                            <td data-testid="rotation-status">{r.status}</td>
                                                            <td>
                                                                <progress max="100" value=percent></progress>
                                                                " " {format!("{}/{}", r.done, r.total)}
                                                            </td>
                                                            <td>{when(r.started_at)}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}
