import { pino } from 'pino';
import { CoordNode, loadNodeConfig } from '@hubha/coord';
import { startHubSidecar } from '@hubha/hub';

/**
 * `hubha run --config FILE`: a witness (a member of the coordination store) or, with role hub,
 * the hub sidecar (that plus PostgreSQL, the VIP and the failover loop). Logs are pino JSON on
 * stdout; SIGTERM/SIGINT stop it cleanly (a hub fences itself first); a fatal storage fault exits
 * 1 so the supervisor (systemd) restarts it from what is on disk.
 */
export async function runNode(configFile: string): Promise<void> {
  const config = await loadNodeConfig(configFile);
  const logger = pino({ level: config.log.level, base: { node: config.node.name, pid: process.pid } });
  const role = config.role ?? config.cluster.members.find((m) => m.name === config.node.name)?.role ?? 'witness';
  let node: CoordNode;
  let closeAll: () => Promise<void>;
  if (role === 'hub') {
    const sidecar = await startHubSidecar(config, configFile, logger);
    node = sidecar.node;
    closeAll = () => sidecar.close();
  } else {
    node = await CoordNode.start({ config, logger });
    closeAll = () => node.close();
  }
  logger.info({ role, dataDir: config.node.dataDir, client: node.clientAddress() }, 'hubha node running');
  const voters = config.cluster.members.length;
  if (voters % 2 === 0) logger.warn({ voters }, 'an even number of voting members tolerates no more failures than one fewer: add a witness or remove one');
  let stopping = false;
  const stop = async (signal: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    await closeAll();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  node.raft.onFatal((err) => {
    logger.fatal({ err }, 'fatal fault: exiting so the supervisor restarts from disk');
    void stop('fatal', 1);
  });
}
