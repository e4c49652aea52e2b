// The Azure subscription's Event Grid system topic and the event subscription to on_resource_event, filtered
// to exactly the operations the code handles (shared/core/eventgrid.py HANDLED_OPERATIONS; checked by the test suite),
// with retries (Event Grid redelivery is how deferred work comes back) and a dead-letter container.
targetScope = 'resourceGroup'

param topicName string
@description('The topic exists already (one per subscription is allowed): add the event subscription to it, change nothing else.')
param reuseTopic bool
param functionAppId string
param identityId string
param storageId string
param deadLetterContainer string

var handledEventTypes = [
  'Microsoft.Resources.ResourceWriteSuccess'
  'Microsoft.Resources.ResourceDeleteSuccess'
]
var handledOperations = [
  'Microsoft.AppConfiguration/configurationStores/delete'
  'Microsoft.AppConfiguration/configurationStores/write'
  'Microsoft.Cache/redis/delete'
  'Microsoft.Cache/redis/write'
  'Microsoft.Cache/redisEnterprise/delete'
  'Microsoft.Cache/redisEnterprise/write'
  'Microsoft.CognitiveServices/accounts/delete'
  'Microsoft.CognitiveServices/accounts/write'
  'Microsoft.ContainerService/managedClusters/delete'
  'Microsoft.ContainerService/managedClusters/write'
  'Microsoft.DBforMySQL/flexibleServers/delete'
  'Microsoft.DBforMySQL/flexibleServers/write'
  'Microsoft.DBforPostgreSQL/flexibleServers/delete'
  'Microsoft.DBforPostgreSQL/flexibleServers/write'
  'Microsoft.DocumentDB/databaseAccounts/delete'
  'Microsoft.DocumentDB/databaseAccounts/write'
  'Microsoft.EventHub/namespaces/delete'
  'Microsoft.EventHub/namespaces/write'
  'Microsoft.Insights/components/delete'
  'Microsoft.Insights/components/write'
  'Microsoft.KeyVault/vaults/delete'
  'Microsoft.KeyVault/vaults/write'
  'Microsoft.Resources/tags/write'
  'Microsoft.ServiceBus/namespaces/delete'
  'Microsoft.ServiceBus/namespaces/write'
  'Microsoft.SignalRService/SignalR/delete'
  'Microsoft.SignalRService/SignalR/write'
  'Microsoft.SignalRService/WebPubSub/delete'
  'Microsoft.SignalRService/WebPubSub/write'
  'Microsoft.Sql/servers/databases/delete'
  'Microsoft.Sql/servers/databases/write'
  'Microsoft.Storage/storageAccounts/delete'
  'Microsoft.Storage/storageAccounts/write'
]
// Event Grid admits at most 25 advanced-filter values per event subscription (docs/FACTS.md section 14): one event
// subscription per 25 operations, all delivering to the same function.
var operationChunks = [
  take(handledOperations, 25)
  skip(handledOperations, 25)
]
var eventSubscriptionNames = [
  'sc-autopilot-resource-events'
  'sc-autopilot-resource-events-2'
]

resource newTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = if (!reuseTopic) {
  name: topicName
  location: 'global'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

// Dead-lettering uses our identity attached to the topic; an existing topic may not carry it (we do not change
// someone else's topic), so on a reused topic undeliverable events expire and the next sweep catches up.
var deadLetter = {
  identity: { type: 'UserAssigned', userAssignedIdentity: identityId }
  deadLetterDestination: {
    endpointType: 'StorageBlob'
    properties: {
      resourceId: storageId
      blobContainerName: deadLetterContainer
    }
  }
}

resource subscriptionToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for (operations, i) in operationChunks: {
  name: '${topicName}/${eventSubscriptionNames[i]}' // the parent is either ours (newTopic) or an existing one
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
      enableAdvancedFilteringOnArrays: true
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: operations
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: reuseTopic ? null : deadLetter
  }
}]
