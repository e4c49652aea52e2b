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
  'Microsoft.CognitiveServices/accounts/delete'
  'Microsoft.CognitiveServices/accounts/write'
  'Microsoft.ContainerService/managedClusters/delete'
  'Microsoft.ContainerService/managedClusters/write'
  'Microsoft.Resources/tags/write'
  'Microsoft.Sql/servers/databases/delete'
  'Microsoft.Sql/servers/databases/write'
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

resource subscriptionToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  name: '${topicName}/sc-autopilot-resource-events' // the parent is either ours (newTopic) or an existing one
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
          values: handledOperations
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: reuseTopic ? null : deadLetter
  }
}
