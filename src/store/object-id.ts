/** MongoDB-style ids for the embedded store, so _id looks the same whichever store wrote it. */
import { ObjectId } from 'bson';

export function newId(): string {
  return new ObjectId().toHexString();
}
