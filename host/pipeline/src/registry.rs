//! The drivers the pipeline can call, by id: the built-ins and uploaded ones.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use podium_runtime::Driver;

#[derive(Default)]
pub struct Registry {
    drivers: RwLock<HashMap<String, Arc<Driver>>>,
}

impl Registry {
    pub fn insert(&self, driver: Arc<Driver>) {
        if let Ok(mut map) = self.drivers.write() {
            map.insert(driver.id.clone(), driver);
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Driver>> {
        self.drivers.read().ok()?.get(id).cloned()
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .drivers
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }
}
