// One Key Vault's system topic (Microsoft.KeyVault.vaults) and the event subscription to on_resource_event for the
// secret events sc-autopilot handles (shared/core/eventgrid.py SECRET_EVENT_TYPES; checked by the test suite): a
// new version is re-put to the connections that read it, near-expiry and expiry are reported. Only one system
// topic may exist per vault, so an existing one (in the vault's resource group) is reused when named
// (main.bicep existingVaultTopics).
targetScope = 'resourceGroup'

@description('False until the code is deployed: Event Grid validates the function endpoint on creation.')
param deployEventSubscription bool
param vaultId string
@description('`<vault id>=<topic id>` pairs, comma separated: the pair of this vault names its existing topic.')
param existingVaultTopics string
param newTopicName string
param functionAppId string

var ownTopics = [
  for pair in split(existingVaultTopics, ','): startsWith(toLower(pair), toLower('${vaultId}=')) ? last(split(pair, '=')) : ''
]
var existingTopicId = join(ownTopics, '')
var reuseTopic = !empty(existingTopicId)
var topicName = reuseTopic ? last(split(existingTopicId, '/')) : newTopicName

var handledEventTypes = [
  'Microsoft.KeyVault.SecretNewVersionCreated'
  'Microsoft.KeyVault.SecretNearExpiry'
  'Microsoft.KeyVault.SecretExpired'
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: last(split(vaultId, '/'))
}

resource newTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = if (deployEventSubscription && !reuseTopic) {
  name: topicName
  location: vault.location
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource vaultToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deployEventSubscription) {
  name: '${topicName}/sc-autopilot-secret-events' // the parent is either ours (newTopic) or an existing one
  dependsOn: [newTopic]
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/on_resource_event'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: handledEventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
