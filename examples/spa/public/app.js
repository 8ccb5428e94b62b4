/** The page: three buttons, who is signed in, and the demo API's answer. */
import { createTokenKeeper } from './token-keeper.js';

const apiUrl = document.querySelector('meta[name="demo-api"]').content;
const who = document.getElementById('who');
const answer = document.getElementById('answer');
const signInButton = document.getElementById('sign-in');
const callButton = document.getElementById('call-api');
const signOutButton = document.getElementById('sign-out');

function show(signedIn) {
  signInButton.hidden = signedIn;
  callButton.hidden = !signedIn;
  signOutButton.hidden = !signedIn;
}

const keeper = createTokenKeeper({
  onSignedIn(user) {
    who.textContent = `Signed in as ${user.name ?? user.sub} (${user.sub}).`;
    show(true);
  },
  onSignedOut() {
    const failed = new URLSearchParams(location.search).has('signin');
    who.textContent = failed ? 'Signing in did not complete. Try again.' : 'You are signed out.';
    show(false);
  },
});

signInButton.addEventListener('click', () => location.assign('/bff/login'));

callButton.addEventListener('click', async () => {
  answer.textContent = 'Calling the API…';
  try {
    const token = await keeper.accessToken();
    if (!token) {
      answer.textContent = 'You are signed out.';
      return;
    }
    const response = await fetch(apiUrl, { headers: { authorization: `Bearer ${token}` } });
    answer.textContent = response.ok
      ? JSON.stringify(await response.json(), null, 2)
      : `The API refused the call: ${response.status} ${response.headers.get('www-authenticate') ?? ''}`;
  } catch (error) {
    answer.textContent = `The API could not be reached: ${error.message}`;
  }
});

signOutButton.addEventListener('click', async () => {
  try {
    location.assign(await keeper.signOut());
  } catch (error) {
    who.textContent = `Signing out failed: ${error.message}`;
  }
});

keeper.refresh().catch((error) => {
  who.textContent = `Gatehouse could not be reached: ${error.message}`;
});
