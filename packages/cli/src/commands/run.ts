import { pino } from 'pino';
import { CoordNode, loadNodeConfig } from '@hubha/coord';

/**
 * `hubha run --config FILE`: one member of the coordination store (what a witness is). Logs are
 * pino JSON on stdout; SIGTERM/SIGINT stop it cleanly; a fatal storage fault exits 1 so the
 * supervisor (systemd) restarts it from what is on disk.
 */
export async function runNode(configFile: string): Promise<void> {
  const config = await loadNodeConfig(configFile);
  const logger = pino({ level: config.log.level, base: { node: config.node.name, pid: process.pid } });
  const node = await CoordNode.start({ config, logger });
  logger.info({ dataDir: config.node.dataDir, client: node.clientAddress() }, 'hubha node running');
  let stopping = false;
  const stop = async (signal: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await node.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  node.raft.onFatal((err) => {
    logger.fatal({ err }, 'fatal fault: exiting so the supervisor restarts from disk');
    void stop('fatal', 1);
  });
}
