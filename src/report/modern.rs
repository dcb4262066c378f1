//! Section 3 of the seminar report (`optlab seminar --modern`): the seminar's comparison
//! repeated with five methods that came after it — Lion, Schedule-Free AdamW, Muon (with
//! AdamW on what is not a matrix), Prodigy and SOAP — on its four functions (each method's
//! lr tuned as the seminar asks) and on its two networks; then a character-level GPT on tiny
//! Shakespeare with the nanoGPT AdamW recipe, Muon + AdamW, Lion, SOAP and Schedule-Free
//! AdamW, with a sample of each one's text.

use super::doc::{Block, Section};
use super::{figures, observations, tables};
use crate::experiment::lm::LmStatus;
use crate::experiment::seminar::{GptRuns, Seminar, GPT_PROMPT};
use crate::record::{self, lm::LmContext, train::TrainContext, OutDir};
use anyhow::Result;

/// What the section adds to the report.
pub struct ModernSection {
    pub sections: Vec<Section>,
    pub conclusions: Vec<String>,
}

/// Writes the section's records and figures under `modern/` and returns its text.
pub fn write(s: &Seminar, out: &mut OutDir) -> Result<ModernSection> {
    let Some(m) = &s.modern else { return Ok(ModernSection { sections: vec![], conclusions: vec![] }) };
    let mut conclusions = Vec::new();
    let mut methods: Vec<String> =
        m.configs.iter().map(|c| format!("{:<9} {}   [{}]", c.name(), c.method.formula, c.method.reference)).collect();
    methods.sort();
    let mut blocks = vec![
        Block::Para("The seminar's comparison repeated with five methods from after it, each following its reference implementation (checked against the reference's own trajectories). The point (x, y) is held as a 1×2 matrix, so Muon orthogonalises and SOAP preconditions it as they would a weight matrix; Schedule-Free takes its gradients at y and reports the averaged point x, which is what is drawn.".into()),
        Block::Pre(methods.join("\n")),
    ];
    for (f, tuned) in &m.part1 {
        let name = f.name.as_str();
        let start = f.start;
        let rel = format!("modern/part1/{name}");
        match tuned {
            Ok(t) => {
                let note = format!("modern, tuned lr, {} steps", t.steps);
                record::compare::write(out, &rel, f, &t.runs, start, t.steps, &note)?;
                figures::compare(out, &rel, f, &t.runs, &note, true)?;
                blocks.push(Block::Para(format!(
                    "{name}: J(x, y) = {}, from ({}, {}). {}",
                    f.formula,
                    start[0],
                    start[1],
                    tables::target_line(&t.target).unwrap_or_default()
                )));
                blocks.push(Block::Table(tables::tune_table(&t.tuned)));
                blocks.push(Block::Table(tables::summary_table(&t.runs)));
                let obs = observations::part1(&t.runs, t.steps, f.bounded_below);
                if let Some(first) = obs.first() {
                    conclusions.push(format!("modern methods on {name}: {first}"));
                }
                blocks.push(Block::List(obs));
                blocks.push(Block::Figure {
                    stem: out.join(format!("{rel}/contour")),
                    caption: format!("{name}: the modern methods with tuned lr over the contours"),
                });
                blocks.push(Block::Figure {
                    stem: out.join(format!("{rel}/loss")),
                    caption: format!("{name}: loss per function evaluation"),
                });
            }
            Err(reason) => blocks.push(Block::Para(format!("{name}: nothing to tune: {reason}."))),
        }
    }
    let mut sections =
        vec![Section { level: 2, title: "3.1 Modern methods on the seminar's functions".into(), blocks }];

    let d = &s.data;
    for (mi, t) in m.training.iter().enumerate() {
        let model_name = t.model.name.as_str();
        let rel = format!("modern/part2/{model_name}");
        let c = TrainContext {
            model: &t.model.name,
            parameters: t.model.n_params,
            dataset: &d.name,
            data_source: &d.source,
            train_samples: d.train_samples,
            test_samples: d.test_total,
            normalisation: [d.mean, d.std],
        };
        record::train::write(out, &rel, &c, &s.settings, &t.results, t.seconds)?;
        let what = format!(
            "{} on {} ({} training images), batch {}",
            model_name, d.name, d.train_samples, s.settings.batch_size
        );
        figures::train(out, &rel, &what, s.settings.epochs, &t.results)?;
        let found = observations::part2(&t.results);
        conclusions.extend(found.facts.iter().take(2).map(|f| format!("modern methods, {model_name}: {f}")));
        sections.push(Section {
            level: 2,
            title: format!("3.{} Modern methods training the {model_name}", mi + 2),
            blocks: vec![
                Block::Para(format!(
                    "The same training as in part 2 ({} epochs, batch {}, the same initial weights and batches), with the modern methods. Wall time {:.1} s.",
                    s.settings.epochs, s.settings.batch_size, t.seconds
                )),
                Block::Table(tables::train_table(&t.results)),
                Block::List(found.facts),
                Block::Figure {
                    stem: out.join(format!("{rel}/curves")),
                    caption: format!("{model_name}: the modern methods, training loss and test accuracy"),
                },
            ],
        });
    }
    if let Some(g) = &m.gpt {
        let (section, found) = gpt_section(g, out, m.training.len() + 2)?;
        sections.push(section);
        conclusions.extend(found);
    }
    Ok(ModernSection { sections, conclusions })
}

/// Section 3.n: the character-level GPT, its records (`modern/gpt/`), figures, a table of the
/// final losses and each method's sample.
fn gpt_section(g: &GptRuns, out: &mut OutDir, n: usize) -> Result<(Section, Vec<String>)> {
    let rel = "modern/gpt";
    let (model, d, s) = (&g.model, &g.data, &g.settings);
    let t = model.cfg.block_size;
    let spec = model.cfg.canonical();
    record::lm::write(out, rel, &LmContext::of(&spec, model, d), s, &g.results, g.seconds)?;
    let what = format!("{} on {}, {} steps of {}×{t}", model.cfg.canonical(), d.name, s.steps, s.batch_size);
    figures::lm(out, rel, &what, &g.results)?;
    let table = tables::lm_table(&g.results, s.batch_size, t, false);
    let mut finals: Vec<(f64, &str)> = g
        .results
        .iter()
        .filter(|r| matches!(r.status, LmStatus::Completed))
        .filter_map(|r| r.evals.last().map(|e| (e.val_loss, r.label.as_str())))
        .collect();
    finals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut facts = Vec::new();
    if let (Some(best), Some(worst)) = (finals.first(), finals.last()) {
        facts.push(format!(
            "after {} steps the lowest validation loss is {}'s, {:.4} nats per character ({:.3} bits); the highest {}'s, {:.4}",
            s.steps,
            best.1,
            best.0,
            best.0 / std::f64::consts::LN_2,
            worst.1,
            worst.0
        ));
    }
    for r in g.results.iter().filter(|r| !matches!(r.status, LmStatus::Completed)) {
        facts.push(format!("{} did not complete: {:?}", r.label, r.status));
    }
    let mut blocks = vec![
        Block::Para(format!(
            "A character-level GPT, {} ({} parameters), on {} ({} training / {} validation characters, vocabulary {}), trained {} steps of {} windows of {t} characters with each method below, from the same initial weights and batches; validation loss on {} batches every {} steps. \
             The methods' specs are written in `modern/gpt/summary.json`. Wall time {:.1} s for the {} runs side by side. \
             Short runs rank methods by how fast they start, not where they end: `optlab train --model gpt --steps 2000 -o SPEC` trains one to the nanoGPT recipe's length.",
            model.cfg.canonical(),
            model.n_params,
            d.name,
            d.train.len(),
            d.val.len(),
            d.vocab.len(),
            s.steps,
            s.batch_size,
            s.eval_batches,
            s.eval_every,
            g.seconds,
            g.results.len()
        )),
        Block::Table(table),
        Block::List(facts.clone()),
        Block::Figure { stem: out.join(format!("{rel}/val_loss")), caption: format!("validation loss against steps — {what}") },
        Block::Figure {
            stem: out.join(format!("{rel}/val_loss_seconds")),
            caption: "validation loss against wall seconds".into(),
        },
    ];
    for (r, text) in g.results.iter().zip(&g.samples) {
        blocks.push(Block::Para(format!(
            "{}: 300 characters after \"{GPT_PROMPT}\" (temperature 0.8, top 40, seed 1):",
            r.label
        )));
        blocks.push(Block::Pre(format!("{GPT_PROMPT}{text}")));
    }
    let section = Section { level: 2, title: format!("3.{n} Modern methods training a character-level GPT"), blocks };
    Ok((section, facts.into_iter().take(1).map(|f| format!("modern methods, GPT: {f}")).collect()))
}
