//! The definition registry and the matching rule.
//!
//! A criterion matches a resource when every field it sets equals the
//! resource's context and its class (unset = `default`) equals the
//! resource's class. Among all matching criteria of all definitions of the
//! resource's type, the most specific wins: `res_id` > `env_id` > `app_id` >
//! `env_type` (set beats unset at the first field that differs).
//!
//! # Ties
//!
//! Specificity is a total order on *which* fields are set, so two criteria
//! are equally specific exactly when they set the same fields; both match
//! one context only if they then agree on every value and on the class. So
//! two criteria tie for some context **iff they are equal after treating an
//! unset class as `default`**. [`Definitions::add`] refuses a definition
//! with such a criterion against another definition of the same type; with
//! that checked at add time, matching never has to break a tie.
//!
//! # Speed
//!
//! Criteria are indexed per type by a hash of (fields set, class, values).
//! Matching probes at most one bucket per specificity in use (≤ 16), most
//! specific first, and stops at the first hit: the cost does not grow with
//! the number of definitions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::Serialize;

use crate::hash::{FxHashMap as HashMap, FxHasher};
use crate::ids::ResourceKey;
use crate::model::EnvContext;
use crate::model::definition::{Criterion, Field, ResourceDefinition, Specificity};

/// Matching errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatchError {
    #[error(
        "resource definitions {first:?} and {second:?} (type {res_type}) tie: criteria {first_criterion} and {second_criterion} match exactly the same contexts with the same specificity; make one more specific or give them different classes"
    )]
    Tie {
        res_type: String,
        first: String,
        first_criterion: Box<Criterion>,
        second: String,
        second_criterion: Box<Criterion>,
    },
    #[error(
        "no resource definition matches {} (class {}, res_id {}) in app {}, env {} (type {}); {candidates} candidate definition(s) of that type, see `explain`",
        resource.res_type, resource.class, resource.res_id, context.app_id, context.env_id, context.env_type
    )]
    NoMatch {
        resource: ResourceKey,
        context: Box<EnvContext>,
        candidates: usize,
    },
}

/// All resource definitions, indexed for matching.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    defs: BTreeMap<String, Arc<ResourceDefinition>>,
    by_type: HashMap<String, TypeIndex>,
}

#[derive(Debug, Clone, Default)]
struct TypeIndex {
    ids: BTreeSet<String>,
    /// Number of criteria per specificity, to probe only those in use.
    per_specificity: [u32; 16],
    table: HashMap<u64, Vec<Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    def: Arc<ResourceDefinition>,
    criterion: usize,
}

impl Entry {
    fn criterion(&self) -> Option<&Criterion> {
        self.def.spec.criteria.get(self.criterion)
    }
}

/// The result of matching one resource.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    pub definition: &'a Arc<ResourceDefinition>,
    /// Index of the winning criterion in the definition's `criteria`.
    pub criterion: usize,
}

/// The values a criterion is compared with.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    env_type: &'a str,
    app_id: &'a str,
    env_id: &'a str,
    res_id: &'a str,
    class: &'a str,
}

impl<'a> Ctx<'a> {
    fn new(env: &'a EnvContext, key: &'a ResourceKey) -> Self {
        Self {
            env_type: &env.env_type,
            app_id: &env.app_id,
            env_id: &env.env_id,
            res_id: &key.res_id,
            class: &key.class,
        }
    }
    fn get(&self, field: Field) -> &'a str {
        match field {
            Field::ResId => self.res_id,
            Field::EnvId => self.env_id,
            Field::AppId => self.app_id,
            Field::EnvType => self.env_type,
            Field::Class => self.class,
        }
    }
}

const FIELD_BITS: [(Field, u8); 4] = [
    (Field::ResId, Specificity::RES_ID),
    (Field::EnvId, Specificity::ENV_ID),
    (Field::AppId, Specificity::APP_ID),
    (Field::EnvType, Specificity::ENV_TYPE),
];

/// Bucket key for (specificity, class, values of the set fields);
/// deterministic. Collisions are resolved by comparing the entries.
fn bucket<'v>(spec: u8, class: &str, value: impl Fn(Field) -> Option<&'v str>) -> u64 {
    let mut h = FxHasher::default();
    spec.hash(&mut h);
    class.hash(&mut h);
    for (field, bit) in FIELD_BITS {
        if spec & bit != 0 {
            value(field).unwrap_or("").hash(&mut h);
        }
    }
    h.finish()
}

fn criterion_bucket(c: &Criterion) -> u64 {
    let fields = c.fields();
    bucket(c.specificity().0, c.class(), |f| {
        fields.iter().find(|(g, _)| *g == f).and_then(|(_, v)| *v)
    })
}

/// Equal after treating an unset class as `default`: the tie condition.
fn equivalent(a: &Criterion, b: &Criterion) -> bool {
    a.env_type == b.env_type
        && a.app_id == b.app_id
        && a.env_id == b.env_id
        && a.res_id == b.res_id
        && a.class() == b.class()
}

/// The first field (class first, then by specificity order) where `c`
/// disagrees with the context.
fn first_mismatch<'c>(c: &'c Criterion, ctx: &Ctx<'_>) -> Option<(Field, &'c str)> {
    if c.class() != ctx.class {
        return Some((Field::Class, c.class()));
    }
    c.fields()
        .into_iter()
        .find_map(|(field, want)| want.filter(|w| *w != ctx.get(field)).map(|w| (field, w)))
}

impl Definitions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a definition, replacing one with the same id. Refuses it when
    /// one of its criteria ties with a criterion of another definition of
    /// the same type (see the module docs); the registry is then unchanged.
    pub fn add(&mut self, def: ResourceDefinition) -> Result<(), MatchError> {
        if let Some(index) = self.by_type.get(def.res_type()) {
            for c in &def.spec.criteria {
                let Some(entries) = index.table.get(&criterion_bucket(c)) else {
                    continue;
                };
                for e in entries {
                    let Some(other) = e.criterion() else { continue };
                    if e.def.id != def.id && equivalent(other, c) {
                        return Err(MatchError::Tie {
                            res_type: def.spec.res_type.clone(),
                            first: e.def.id.clone(),
                            first_criterion: Box::new(other.clone()),
                            second: def.id.clone(),
                            second_criterion: Box::new(c.clone()),
                        });
                    }
                }
            }
        }
        self.remove(&def.id);
        let def = Arc::new(def);
        let index = self.by_type.entry(def.spec.res_type.clone()).or_default();
        index.ids.insert(def.id.clone());
        for (i, c) in def.spec.criteria.iter().enumerate() {
            index.per_specificity[usize::from(c.specificity().0)] += 1;
            index
                .table
                .entry(criterion_bucket(c))
                .or_default()
                .push(Entry {
                    def: Arc::clone(&def),
                    criterion: i,
                });
        }
        self.defs.insert(def.id.clone(), def);
        Ok(())
    }

    /// Removes the definition `id`, returning it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<ResourceDefinition>> {
        let old = self.defs.remove(id)?;
        if let Some(index) = self.by_type.get_mut(old.res_type()) {
            index.ids.remove(id);
            for c in &old.spec.criteria {
                let slot = &mut index.per_specificity[usize::from(c.specificity().0)];
                *slot = slot.saturating_sub(1);
                if let Some(entries) = index.table.get_mut(&criterion_bucket(c)) {
                    entries.retain(|e| e.def.id != id);
                }
            }
            if index.ids.is_empty() {
                self.by_type.remove(old.res_type());
            }
        }
        Some(old)
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ResourceDefinition>> {
        self.defs.get(id)
    }

    /// All definitions, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ResourceDefinition>> {
        self.defs.values()
    }

    pub fn len(&self) -> usize {
        self.defs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// The definition that fulfils `key` in `env`.
    pub fn match_resource(
        &self,
        env: &EnvContext,
        key: &ResourceKey,
    ) -> Result<Match<'_>, MatchError> {
        let ctx = Ctx::new(env, key);
        let found = self.by_type.get(&key.res_type).and_then(|index| {
            (0..16u8).rev().find_map(|spec| {
                if index.per_specificity[usize::from(spec)] == 0 {
                    return None;
                }
                let h = bucket(spec, ctx.class, |f| Some(ctx.get(f)));
                index.table.get(&h)?.iter().find_map(|e| {
                    let c = e.criterion()?;
                    (c.specificity().0 == spec && first_mismatch(c, &ctx).is_none()).then_some(
                        Match {
                            definition: &e.def,
                            criterion: e.criterion,
                        },
                    )
                })
            })
        });
        found.ok_or_else(|| MatchError::NoMatch {
            resource: key.clone(),
            context: Box::new(env.clone()),
            candidates: self.by_type.get(&key.res_type).map_or(0, |i| i.ids.len()),
        })
    }

    /// Why each definition of `key`'s type won or lost. Agrees with
    /// [`Definitions::match_resource`] by construction of the same rule.
    pub fn explain(&self, env: &EnvContext, key: &ResourceKey) -> Explanation {
        let ctx = Ctx::new(env, key);
        let mut candidates = Vec::new();
        let mut best: Option<(Specificity, usize)> = None;
        let ids = self.by_type.get(&key.res_type).map(|i| &i.ids);
        for def in ids.into_iter().flatten().filter_map(|id| self.defs.get(id)) {
            let mut checks = Vec::new();
            let mut own_best: Option<(Specificity, usize)> = None;
            for (i, c) in def.spec.criteria.iter().enumerate() {
                match first_mismatch(c, &ctx) {
                    None => {
                        let s = c.specificity();
                        if own_best.is_none_or(|(b, _)| s > b) {
                            own_best = Some((s, i));
                        }
                        checks.push(CriterionCheck::Matched {
                            index: i,
                            criterion: c.clone(),
                        });
                    }
                    Some((field, wanted)) => checks.push(CriterionCheck::Mismatch {
                        index: i,
                        criterion: c.clone(),
                        field,
                        wanted: wanted.to_owned(),
                        actual: ctx.get(field).to_owned(),
                    }),
                }
            }
            if let Some((s, _)) = own_best
                && best.is_none_or(|(b, _)| s > b)
            {
                best = Some((s, candidates.len()));
            }
            candidates.push(Candidate {
                definition: def.id.clone(),
                version: def.version,
                outcome: match own_best {
                    Some((_, i)) => Outcome::LessSpecific {
                        criterion: i,
                        than: String::new(),
                    },
                    None => Outcome::NoMatch,
                },
                reason: String::new(),
                checks,
            });
        }
        let winner = best.and_then(|(_, at)| candidates.get(at).map(|c| c.definition.clone()));
        for (at, cand) in candidates.iter_mut().enumerate() {
            if let Outcome::LessSpecific { criterion, .. } = cand.outcome {
                cand.outcome = if Some(at) == best.map(|(_, b)| b) {
                    Outcome::Won { criterion }
                } else {
                    Outcome::LessSpecific {
                        criterion,
                        than: winner.clone().unwrap_or_default(),
                    }
                };
            }
        }
        for cand in &mut candidates {
            cand.reason = cand.describe();
        }
        Explanation {
            resource: key.clone(),
            context: env.clone(),
            winner,
            candidates,
        }
    }
}

/// Why each candidate definition won or lost for one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub resource: ResourceKey,
    pub context: EnvContext,
    /// Id of the winning definition, if any.
    pub winner: Option<String>,
    /// Every definition of the resource's type, by id.
    pub candidates: Vec<Candidate>,
}

/// One definition's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub definition: String,
    pub version: u64,
    pub outcome: Outcome,
    /// Why it won or lost, in one sentence: the winning criterion, "less
    /// specific than the winner", or each criterion's first field that
    /// does not match.
    pub reason: String,
    /// One check per criterion, in the definition's order.
    pub checks: Vec<CriterionCheck>,
}

impl Candidate {
    fn matched(&self, i: usize) -> String {
        self.checks
            .iter()
            .find_map(|c| match c {
                CriterionCheck::Matched { index, criterion } if *index == i => {
                    Some(criterion.to_string())
                }
                _ => None,
            })
            .unwrap_or_default()
    }

    fn describe(&self) -> String {
        match &self.outcome {
            Outcome::Won { criterion } => format!(
                "won: criterion #{criterion} {} is the most specific match",
                self.matched(*criterion)
            ),
            Outcome::LessSpecific { criterion, than } => format!(
                "less specific than the winner {than}: its best match is criterion #{criterion} {}",
                self.matched(*criterion)
            ),
            Outcome::NoMatch if self.checks.is_empty() => {
                "has no criteria, matches nothing".to_owned()
            }
            Outcome::NoMatch => {
                let misses: Vec<String> = self
                    .checks
                    .iter()
                    .filter_map(|c| match c {
                        CriterionCheck::Mismatch {
                            index,
                            criterion,
                            field,
                            wanted,
                            actual,
                        } => Some(format!(
                            "criterion #{index} {criterion}: {field} is {}, not {wanted}",
                            if actual.is_empty() {
                                "not given"
                            } else {
                                actual.as_str()
                            }
                        )),
                        CriterionCheck::Matched { .. } => None,
                    })
                    .collect();
                format!("no criterion matches: {}", misses.join("; "))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Its criterion `criterion` is the most specific match.
    Won { criterion: usize },
    /// Its best match, criterion `criterion`, is less specific than the
    /// winner `than`'s.
    LessSpecific { criterion: usize, than: String },
    /// None of its criteria matches.
    NoMatch,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CriterionCheck {
    Matched {
        index: usize,
        criterion: Criterion,
    },
    /// `field` wants `wanted` but the resource has `actual`.
    Mismatch {
        index: usize,
        criterion: Criterion,
        field: Field,
        wanted: String,
        actual: String,
    },
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = &self.context;
        writeln!(
            f,
            "{} in app {}, env {} (type {}):",
            self.resource, ctx.app_id, ctx.env_id, ctx.env_type
        )?;
        if self.candidates.is_empty() {
            writeln!(f, "  no definitions of type {}", self.resource.res_type)?;
        }
        for cand in &self.candidates {
            let crit = |i: usize| -> String {
                cand.checks
                    .iter()
                    .find_map(|c| match c {
                        CriterionCheck::Matched { index, criterion } if *index == i => {
                            Some(criterion.to_string())
                        }
                        _ => None,
                    })
                    .unwrap_or_default()
            };
            match &cand.outcome {
                Outcome::Won { criterion } => writeln!(
                    f,
                    "  {}: won with criterion #{criterion} {}",
                    cand.definition,
                    crit(*criterion)
                )?,
                Outcome::LessSpecific { criterion, than } => writeln!(
                    f,
                    "  {}: criterion #{criterion} {} matched but is less specific than {than}",
                    cand.definition,
                    crit(*criterion)
                )?,
                Outcome::NoMatch if cand.checks.is_empty() => {
                    writeln!(f, "  {}: has no criteria, matches nothing", cand.definition)?
                }
                Outcome::NoMatch => {
                    writeln!(f, "  {}: no criterion matches", cand.definition)?;
                    for check in &cand.checks {
                        if let CriterionCheck::Mismatch {
                            index,
                            criterion,
                            field,
                            wanted,
                            actual,
                        } = check
                        {
                            writeln!(
                                f,
                                "    #{index} {criterion}: {field} is {actual}, not {wanted}"
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
