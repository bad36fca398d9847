//! The flow-definition loader: any text as a flow TOML file is parsed and checked, or refused — never a
//! panic; a flow that passes answers questions about each of its states and actions.
#![no_main]
use libfuzzer_sys::fuzz_target;
use onewindow_core::flow::Flow;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(flow) = Flow::parse(text) {
        for state in &flow.states {
            for action in flow.actions_from(&state.code) {
                let _ = flow.next_state(&state.code, action);
            }
        }
    }
});
