export { createApp, type AppDeps } from './app.js';
export { startServer, type RunningServer } from './server.js';
export { loadConfig, type Config } from './config.js';
export { createConfiguredEmbedder, openConfiguredKnowledgeBase } from './configured-knowledge-base.js';
export { openServices, type Services } from './services.js';
export { createConsoleLogger, type Logger } from './logger.js';
export { createHealthProbe, type HealthReport } from './health.js';
export { MAX_PAGE_SIZE } from './graphql/inputs.js';
export { DEFAULT_QUERY_LIMITS, type QueryLimits } from './graphql/query-limits.js';
