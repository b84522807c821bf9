/** The book's API client, `npm run client`: the same code as `pilcrow client` (lib/cli/api-client.ts). */
import "../lib/cli/api-client.ts";
