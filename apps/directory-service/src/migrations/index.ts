import { MessagingTables1732300000000 } from '@carerelay/messaging';
import { Directory1732300000600 } from './1732300000600-directory';

export const DIRECTORY_MIGRATIONS = [MessagingTables1732300000000, Directory1732300000600];
