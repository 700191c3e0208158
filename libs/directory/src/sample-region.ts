// The sample directory's region: Chicago and a few inner Cook County suburbs. Real ZIP codes with
// approximate centroids (good to a kilometre or so, which is all the sample needs), the
// neighbourhood each is known by, and languages other than English widely spoken there.

import type { GeoPoint } from './directory.model';

export interface SampleZip {
  zip: string;
  name: string;
  city: string;
  lat: number;
  lon: number;
  /** BCP-47 tags of languages other than English common in the area. */
  languages: string[];
}

const z = (
  zip: string,
  name: string,
  lat: number,
  lon: number,
  languages: string[] = [],
  city = 'Chicago',
): SampleZip => ({ zip, name, city, lat, lon, languages });

export const SAMPLE_REGION = {
  name: 'Chicago metro area (Cook County, IL)',
  state: 'IL',
  zips: [
    z('60601', 'Loop', 41.886, -87.622),
    z('60602', 'Loop West', 41.883, -87.629),
    z('60603', 'Loop South', 41.88, -87.626),
    z('60604', 'LaSalle Street', 41.878, -87.629),
    z('60605', 'South Loop', 41.867, -87.617, ['zh']),
    z('60606', 'West Loop Gate', 41.882, -87.637),
    z('60607', 'Near West Side', 41.874, -87.651, ['es']),
    z('60608', 'Pilsen', 41.847, -87.67, ['es']),
    z('60609', 'Back of the Yards', 41.81, -87.653, ['es']),
    z('60610', 'Old Town', 41.903, -87.633),
    z('60611', 'Streeterville', 41.894, -87.618),
    z('60612', 'Illinois Medical District', 41.88, -87.687, ['es']),
    z('60613', 'Lakeview', 41.954, -87.657),
    z('60614', 'Lincoln Park', 41.922, -87.651),
    z('60615', 'Kenwood', 41.802, -87.602),
    z('60616', 'Chinatown', 41.845, -87.624, ['zh']),
    z('60617', 'South Chicago', 41.726, -87.553, ['es']),
    z('60618', 'Avondale', 41.946, -87.704, ['es', 'pl']),
    z('60619', 'Chatham', 41.745, -87.605),
    z('60620', 'Auburn Gresham', 41.741, -87.654),
    z('60621', 'Englewood', 41.776, -87.639),
    z('60622', 'Wicker Park', 41.902, -87.683, ['es', 'pl']),
    z('60623', 'Little Village', 41.849, -87.717, ['es']),
    z('60624', 'Garfield Park', 41.88, -87.723),
    z('60625', 'Albany Park', 41.971, -87.702, ['es', 'ko', 'ar', 'tl']),
    z('60626', 'Rogers Park', 42.009, -87.669, ['es', 'am', 'fr', 'ht']),
    z('60628', 'Roseland', 41.693, -87.618),
    z('60629', 'Chicago Lawn', 41.776, -87.711, ['es', 'ar']),
    z('60630', 'Jefferson Park', 41.971, -87.756, ['pl']),
    z('60631', 'Edison Park', 41.995, -87.813, ['pl']),
    z('60632', 'Brighton Park', 41.81, -87.713, ['es', 'pl']),
    z('60633', 'Hegewisch', 41.664, -87.562, ['es']),
    z('60634', 'Dunning', 41.946, -87.806, ['pl', 'es']),
    z('60636', 'West Englewood', 41.776, -87.668),
    z('60637', 'Woodlawn', 41.781, -87.604),
    z('60638', 'Garfield Ridge', 41.781, -87.771, ['es', 'pl']),
    z('60639', 'Belmont Cragin', 41.92, -87.756, ['es', 'pl']),
    z('60640', 'Uptown', 41.972, -87.662, ['vi', 'am', 'so', 'es']),
    z('60641', 'Portage Park', 41.946, -87.747, ['pl', 'es']),
    z('60642', 'Noble Square', 41.901, -87.659, ['es']),
    z('60643', 'Beverly', 41.7, -87.663),
    z('60644', 'Austin', 41.881, -87.756),
    z('60645', 'West Ridge', 42.008, -87.695, ['ur', 'hi', 'ar', 'ru', 'gu']),
    z('60646', 'Sauganash', 41.993, -87.76, ['pl', 'ko']),
    z('60647', 'Logan Square', 41.921, -87.702, ['es']),
    z('60649', 'South Shore', 41.763, -87.57),
    z('60651', 'Humboldt Park', 41.902, -87.741, ['es']),
    z('60652', 'Ashburn', 41.746, -87.713, ['es']),
    z('60653', 'Bronzeville', 41.82, -87.612),
    z('60654', 'River North', 41.892, -87.637),
    z('60655', 'Mount Greenwood', 41.695, -87.703),
    z('60656', 'Norwood Park', 41.975, -87.829, ['pl']),
    z('60657', 'Lakeview East', 41.94, -87.653),
    z('60659', 'Peterson Park', 41.991, -87.703, ['ur', 'ru', 'ar']),
    z('60660', 'Edgewater', 41.991, -87.667, ['vi', 'am', 'es', 'zh']),
    z('60661', 'Fulton Market', 41.882, -87.643),
    z('60201', 'Evanston', 42.056, -87.694, ['es', 'ht'], 'Evanston'),
    z('60202', 'South Evanston', 42.03, -87.689, ['es'], 'Evanston'),
    z('60302', 'Oak Park', 41.894, -87.789, [], 'Oak Park'),
    z('60304', 'South Oak Park', 41.873, -87.789, [], 'Oak Park'),
    z('60402', 'Berwyn', 41.835, -87.79, ['es'], 'Berwyn'),
    z('60804', 'Cicero', 41.844, -87.76, ['es'], 'Cicero'),
    z('60153', 'Maywood', 41.879, -87.843, ['es'], 'Maywood'),
    z('60406', 'Blue Island', 41.657, -87.679, ['es'], 'Blue Island'),
    z('60827', 'Riverdale', 41.649, -87.63, [], 'Riverdale'),
  ] as readonly SampleZip[],
  streets: [
    'S Halsted St',
    'W 26th St',
    'N Milwaukee Ave',
    'W Devon Ave',
    'N Broadway',
    'S Cottage Grove Ave',
    'W Madison St',
    'W North Ave',
    'N Clark St',
    'S Ashland Ave',
    'W 63rd St',
    'S Western Ave',
    'N Lincoln Ave',
    'W Irving Park Rd',
    'S Pulaski Rd',
    'W Cermak Rd',
    'E 79th St',
    'S Kedzie Ave',
    'W Lawrence Ave',
    'W Chicago Ave',
    'W Belmont Ave',
    'S State St',
    'N Cicero Ave',
    'W Roosevelt Rd',
    'S Michigan Ave',
  ] as readonly string[],
} as const;

/** ZIP → approximate centroid, for `MatchOptions.zipCentroids`. */
export function sampleZipCentroids(): Map<string, GeoPoint> {
  return new Map(SAMPLE_REGION.zips.map((z) => [z.zip, { lat: z.lat, lon: z.lon }]));
}
