// Starts the integrations the configuration enables, each on what it needs of the agent's MQTT link.
// Home Assistant also runs when disabled if an earlier run left configs to remove.
import path from 'node:path';
import type { CommandDispatcher } from '../commands/types.ts';
import type { AgentConfig } from '../config.ts';
import type { MqttLink } from '../mqtt/mqtt-link.ts';
import { startHomeAssistant } from './home-assistant.ts';
import type { Integration } from './integration.ts';
import { startSparkplugEdgeNode } from './sparkplug/edge-node.ts';

export async function startIntegrations(cfg: AgentConfig, link: MqttLink, dispatcher: CommandDispatcher): Promise<Integration[]> {
  const cameras = Object.keys(cfg.cameras);
  const signedCommands = cfg.mqtt.command_secret !== null;
  const { home_assistant: ha, sparkplug } = cfg.integrations;
  const started: (Integration | null)[] = [
    await startHomeAssistant({
      enabled: ha.enabled,
      connection: link.connection,
      topics: link.topics,
      deviceId: cfg.device_id,
      discoveryPrefix: ha.discovery_prefix,
      cameras,
      masks: cfg.detector.publish_masks !== 'never',
      signedCommands,
      stateFile: path.join(cfg.data_dir, 'integrations', 'home-assistant.json'),
    }),
    sparkplug.enabled
      ? startSparkplugEdgeNode({
          // The configuration requires group_id when enabled.
          groupId: sparkplug.group_id!,
          edgeNodeId: sparkplug.edge_node_id ?? cfg.device_id,
          cameras,
          signedCommands,
          dispatcher,
          openSession: link.openSession,
        })
      : null,
  ];
  return started.filter((i): i is Integration => i !== null);
}
