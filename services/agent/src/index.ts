export { main } from './main.js';
export { loadAgentConfig, parseSize, AGENT_KEYS, type AgentConfig } from './config.js';
export { verifyInstruction, type VerifiedPlan, type Verification } from './instructions.js';
export { EXIT, AgentError } from './exit-codes.js';
export { buildAgentBundle } from './build.js';
