/** The SKB_* variables every command reads, for the usage texts. */
export const ENVIRONMENT_HELP = `Environment:
  SKB_DB_URL            database: file:data/kb.db (default), or libsql://, http(s)://, ws(s):// for a libSQL server
  SKB_DB_AUTH_TOKEN     token of a remote libSQL server
  SKB_DATA_DIR          directory of the index files (default data)
  SKB_SEED_PACKS        seed pack manifest imported at start (default: the package's), or none
  SKB_SEARCH_LEASE_MS   how long a replica's lease on a search lasts before another resumes it (default 15000)
  SKB_EMBEDDER          offline (default, no network) or openai (any OpenAI-compatible endpoint)
  SKB_EMBEDDING_MODEL   embedding model for SKB_EMBEDDER=openai (default text-embedding-3-small)
  SKB_OPENAI_BASE_URL   OpenAI-compatible endpoint, e.g. http://localhost:11434/v1
  SKB_OPENAI_API_KEY    key for that endpoint`;
