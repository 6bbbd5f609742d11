import pkg from '../package.json' with { type: 'json' };

/** The agent's version, sent with every heartbeat (the bundle inlines it at build time). */
export const AGENT_VERSION: string = pkg.version;
